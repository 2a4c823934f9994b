/**
 * Turns a Create (or Exec) request into what the runner needs: the module, argv, environment, preopens and
 * stdio. Two paths (DESIGN "Flows"): `options` carrying `nodewasi.v1.CreateOptions` (the shim resolves the
 * image itself: `nodewasi run`), or an OCI bundle with a runtime spec (containerd's path).
 */
import { mkdir } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type { CreateOptions, CreateTaskRequest } from "../gen/index.js";
import { Code, invalidArgument, type Logger, ShimError } from "../internal/index.js";
import type { PullResult } from "../oci/index.js";
import { type RunSpec, type StdioUris, stdioTargets } from "../wasi/index.js";
import {
  envRecord,
  type ModuleRef,
  mountPreopens,
  parseProcessSpec,
  type RuntimeSpec,
  readRuntimeSpec,
  resolveWasmModule,
  splitEntry,
} from "./bundle.js";
import { imageArgv, runFromAnnotatedImage } from "./bundle-image.js";
import { annotatedImage } from "./image-annotations.js";
import type { ImageResolver } from "./image-resolver.js";
import { ensurePauseModule } from "./pause-module.js";
import { pullPolicyOf } from "./pull-codec.js";
import { mountRootfs } from "./rootfs-mounts.js";
import { writableRootfs } from "./task-rootfs.js";

export interface TaskSetup {
  spec: RunSpec;
  bundle: string;
  rootfs: string;
  /** The pulled image, for a task created from a reference. */
  image?: PullResult;
  /** Undoes what setup did outside the bundle's files (a rootfs mount); TaskService.delete calls it. */
  cleanup?: () => Promise<void>;
}

/** The annotation containerd's CRI sets in a container's runtime spec: `sandbox` for a pod's pause container. */
export const CRI_CONTAINER_TYPE = "io.kubernetes.cri.container-type";

/** Whether a runtime spec is a CRI pod sandbox (pause) container. */
export function isCriSandbox(runtime: RuntimeSpec): boolean {
  return runtime.annotations?.[CRI_CONTAINER_TYPE] === "sandbox";
}

/**
 * A task from an image reference: resolve (pull) it, give the task its own writable view of the image rootfs
 * in `bundle` (the request's, or the one the Task service made up: task-dirs.ts).
 */
export async function setupFromImage(
  req: CreateTaskRequest,
  opts: CreateOptions,
  resolver: ImageResolver,
  bundle: string,
  signal?: AbortSignal,
  log?: Logger,
): Promise<TaskSetup> {
  if (!opts.image) throw invalidArgument(`task ${req.id}: CreateOptions has no image reference`);
  // Checked before any pull and before the bundle folder exists: a refused Create leaves nothing behind.
  for (const m of opts.mounts) {
    if (!isAbsolute(m.source) || !m.destination.startsWith("/")) {
      throw invalidArgument(`mount ${m.source}:${m.destination}: both paths must be absolute`);
    }
  }
  const image = await resolver.resolve({
    image: opts.image,
    policy: pullPolicyOf(opts.pullPolicy, "missing"),
    plainHttp: opts.plainHttp,
    ...(opts.platform ? { platform: opts.platform } : {}),
    ...(signal ? { signal } : {}),
  });
  const rootfs = join(bundle, "rootfs");
  const defaults = imageArgv(image);
  const args = opts.args.length ? [defaults[0] ?? "", ...opts.args] : defaults;
  const preopens: Record<string, string> = { "/": rootfs };
  for (const m of opts.mounts) preopens[m.destination] = m.source;
  const spec: RunSpec = {
    module: image.module.path,
    moduleDigest: image.module.digest,
    args,
    env: envRecord([...image.env, ...opts.env]),
    preopens,
    cwd: opts.workingDir || image.workingDir || "/",
    ...stdioTargets(req),
    ...(opts.memoryLimit ? { memoryLimit: Number(opts.memoryLimit) } : {}),
  };
  await mkdir(bundle, { recursive: true, mode: 0o711 });
  // The image rootfs in the store is shared, immutable image content (its module is hardlinked in the store):
  // the task writes to its own view of it (task-rootfs.ts: an overlay, else a copy). Last, so that nothing
  // after it can fail and leave an overlay mounted.
  const view = image.rootfs ? await writableRootfs(image.rootfs, bundle, log) : undefined;
  if (!view) await mkdir(rootfs, { recursive: true });
  return { spec, bundle, rootfs, image, ...(view?.cleanup ? { cleanup: view.cleanup } : {}) };
}

/**
 * A task from an OCI bundle (containerd): config.json's process, rootfs and mounts. A CRI sandbox whose
 * `args[0]` is no wasm module (the k8s pause image) runs the built-in pause module instead (DESIGN decision
 * 17), written once to `pauseDir` (default: the bundle). When the rootfs does not hold the module (or the spec
 * has no args) and the spec's annotations name an image, the shim pulls that image with `images` and runs its
 * module (bundle-image.ts: wasm artifact images containerd cannot unpack).
 */
export async function setupFromBundle(
  req: CreateTaskRequest,
  pauseDir?: string,
  images?: ImageResolver,
): Promise<TaskSetup> {
  if (!req.bundle) throw invalidArgument(`task ${req.id}: no bundle and no image to create it from`);
  const runtime = await readRuntimeSpec(req.bundle);
  const rootPath = runtime.root?.path ?? "rootfs";
  const bundleRootfs = isAbsolute(rootPath) ? rootPath : join(req.bundle, rootPath);
  const from = { req, runtime, pauseDir: pauseDir ?? req.bundle, ...(images ? { images } : {}) };
  if (req.rootfs.length === 0) return specFromBundle(from, bundleRootfs);
  // containerd's path: the snapshot's mounts (rootfs-mounts.ts); a failure after mounting unmounts.
  const mounted = await mountRootfs(req.rootfs, bundleRootfs);
  try {
    const setup = await specFromBundle(from, mounted.rootfs);
    return mounted.cleanup ? { ...setup, cleanup: mounted.cleanup } : setup;
  } catch (err) {
    await mounted.cleanup?.().catch(() => {});
    throw err;
  }
}

interface BundleInput {
  req: CreateTaskRequest;
  runtime: RuntimeSpec;
  pauseDir: string;
  images?: ImageResolver;
}

async function specFromBundle(b: BundleInput, rootfs: string): Promise<TaskSetup> {
  const { req, runtime } = b;
  const args = runtime.process?.args ?? [];
  const env = envRecord(runtime.process?.env ?? []);
  const cwd = runtime.process?.cwd ?? "/";
  const named = annotatedImage(runtime.annotations);
  let run: {
    module: ModuleRef;
    args: string[];
    env: Record<string, string>;
    cwd: string;
    image?: PullResult;
  };
  try {
    if (!args[0]) throw invalidArgument(`task ${req.id}: the runtime spec has no process.args`);
    const module = await resolveWasmModule(rootfs, args[0], cwd, env.PATH);
    run = { module, args: [module.guest, ...args.slice(1)], env, cwd };
  } catch (err) {
    const code = err instanceof ShimError ? err.code : undefined;
    if (isCriSandbox(runtime) && (code === Code.NotFound || code === Code.FailedPrecondition)) {
      // The pod's pause container: wait until killed, with no filesystem (DESIGN decision 17).
      const spec: RunSpec = {
        module: await ensurePauseModule(b.pauseDir),
        args,
        env,
        preopens: {},
        cwd,
        ...stdioTargets(req),
      };
      return { spec, bundle: req.bundle, rootfs };
    }
    // No module here (not "a file that is no wasm"): the image the spec names may hold it.
    const missing = !args[0] || code === Code.NotFound;
    if (!named || !b.images || !missing || isCriSandbox(runtime)) throw err;
    run = await runFromAnnotatedImage({
      id: req.id,
      runtime,
      rootfs,
      named,
      missing: args[0] ? `the rootfs has no ${splitEntry(args[0]).file}` : "the runtime spec has no args",
      images: b.images,
    });
  }
  const limit = runtime.linux?.resources?.memory?.limit;
  const spec: RunSpec = {
    module: run.module.host,
    args: run.args,
    env: run.env,
    preopens: { ...(await mountPreopens(runtime.mounts)), "/": rootfs },
    cwd: run.cwd,
    ...stdioTargets(req),
    ...(limit && limit > 0 ? { memoryLimit: limit } : {}),
    ...(run.module.entry ? { entry: run.module.entry } : {}),
    ...(run.module.digest ? { moduleDigest: run.module.digest } : {}),
  };
  return { spec, bundle: req.bundle, rootfs, ...(run.image ? { image: run.image } : {}) };
}

/** An exec: an OCI Process (JSON in `spec`) run in the container's rootfs with its preopens. */
export async function setupExec(
  container: TaskSetup,
  processJson: Uint8Array,
  stdio: StdioUris,
  what: string,
): Promise<RunSpec> {
  const process = parseProcessSpec(processJson, what);
  const args = process.args ?? [];
  if (!args[0]) throw invalidArgument(`${what}: the process spec has no args`);
  const env = envRecord(process.env ?? []);
  const cwd = process.cwd ?? "/";
  const module = await resolveWasmModule(container.rootfs, args[0], cwd, env.PATH);
  // The exec runs its own module: neither the container's export nor its module's digest apply to it.
  const { entry: _containerEntry, moduleDigest: _containerModule, ...base } = container.spec;
  return {
    ...base,
    module: module.host,
    args: [module.guest, ...args.slice(1)],
    env,
    cwd,
    ...stdioTargets(stdio),
    ...(module.entry ? { entry: module.entry } : {}),
  };
}
