/**
 * Turns a Create (or Exec) request into what the runner needs: the module, argv, environment, preopens and
 * stdio. Two paths (DESIGN "Flows"): `options` carrying `nodewasi.v1.CreateOptions` (the shim resolves the
 * image itself: `nodewasi run`), or an OCI bundle with a runtime spec (containerd's path).
 */
import { cp, mkdir } from "node:fs/promises";
import { basename, isAbsolute, join } from "node:path";
import type { CreateOptions, CreateTaskRequest } from "../gen/index.js";
import { PullPolicy } from "../gen/index.js";
import {
  Code,
  failedPrecondition,
  invalidArgument,
  readWasmFileHeader,
  ShimError,
} from "../internal/index.js";
import type { PullResult } from "../oci/index.js";
import { type RunSpec, stdioTargets } from "../wasi/index.js";
import {
  envRecord,
  type ModuleRef,
  mountPreopens,
  type RuntimeSpec,
  readRuntimeSpec,
  resolveModule,
} from "./bundle.js";
import type { ImageResolver, PullPolicy as Policy } from "./image-resolver.js";
import { ensurePauseModule } from "./pause-module.js";
import { mountRootfs } from "./rootfs-mounts.js";

export interface TaskSetup {
  spec: RunSpec;
  bundle: string;
  rootfs: string;
  /** The pulled image, for a task created from a reference. */
  image?: PullResult;
  /** Undoes what setup did outside the bundle's files (a rootfs mount); TaskService.delete calls it. */
  cleanup?: () => Promise<void>;
}

export interface StdioRequest {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

const POLICY: Record<PullPolicy, Policy> = {
  [PullPolicy.MISSING]: "missing",
  [PullPolicy.ALWAYS]: "always",
  [PullPolicy.NEVER]: "never",
};

/** The annotation containerd's CRI sets in a container's runtime spec: `sandbox` for a pod's pause container. */
export const CRI_CONTAINER_TYPE = "io.kubernetes.cri.container-type";

/** Whether a runtime spec is a CRI pod sandbox (pause) container. */
export function isCriSandbox(runtime: RuntimeSpec): boolean {
  return runtime.annotations?.[CRI_CONTAINER_TYPE] === "sandbox";
}

/** Checks the first bytes of `file` are a wasm module, with a message for what containerd may hand over. */
export async function checkWasm(file: string, args0: string): Promise<void> {
  const header = await readWasmFileHeader(file);
  if ("error" in header) {
    throw failedPrecondition(
      `${args0} is not a WebAssembly module (${header.error}); this runtime runs wasm only`,
    );
  }
  if (header.kind === "component") {
    throw failedPrecondition(`${args0} is a WebAssembly component; nodewasi runs WASI preview 1 modules`);
  }
}

/** A task from an image reference: resolve (pull) it, give the task its own copy of the image rootfs. */
export async function setupFromImage(
  req: CreateTaskRequest,
  opts: CreateOptions,
  resolver: ImageResolver,
  stateDir: string,
  signal?: AbortSignal,
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
    policy: POLICY[opts.pullPolicy] ?? "missing",
    plainHttp: opts.plainHttp,
    ...(opts.platform ? { platform: opts.platform } : {}),
    ...(signal ? { signal } : {}),
  });
  const bundle = req.bundle || join(stateDir, "tasks", req.id);
  const rootfs = join(bundle, "rootfs");
  await mkdir(bundle, { recursive: true, mode: 0o711 });
  // The image rootfs in the store is shared, immutable image content (its module is hardlinked in the store):
  // the task writes to its own copy.
  if (image.rootfs) await cp(image.rootfs, rootfs, { recursive: true, verbatimSymlinks: true, force: true });
  else await mkdir(rootfs, { recursive: true });
  const argv0 = image.entrypoint[0] ?? `/${basename(image.module.source)}`;
  const args = opts.args.length
    ? [argv0, ...opts.args]
    : image.entrypoint.length
      ? image.entrypoint
      : [argv0];
  const preopens: Record<string, string> = { "/": rootfs };
  for (const m of opts.mounts) preopens[m.destination] = m.source;
  const spec: RunSpec = {
    module: image.module.path,
    args,
    env: envRecord([...image.env, ...opts.env]),
    preopens,
    cwd: opts.workingDir || image.workingDir || "/",
    ...stdioTargets(req),
    ...(opts.memoryLimit ? { memoryLimit: Number(opts.memoryLimit) } : {}),
  };
  return { spec, bundle, rootfs, image };
}

/**
 * A task from an OCI bundle (containerd): config.json's process, rootfs and mounts. A CRI sandbox whose
 * `args[0]` is no wasm module (the k8s pause image) runs the built-in pause module instead (DESIGN decision
 * 17), written once to `pauseDir` (default: the bundle).
 */
export async function setupFromBundle(req: CreateTaskRequest, pauseDir?: string): Promise<TaskSetup> {
  if (!req.bundle) throw invalidArgument(`task ${req.id}: no bundle and no image to create it from`);
  const runtime = await readRuntimeSpec(req.bundle);
  const rootPath = runtime.root?.path ?? "rootfs";
  const bundleRootfs = isAbsolute(rootPath) ? rootPath : join(req.bundle, rootPath);
  const dir = pauseDir ?? req.bundle;
  if (req.rootfs.length === 0) return specFromBundle(req, runtime, bundleRootfs, dir);
  // containerd's path: the snapshot's mounts (rootfs-mounts.ts); a failure after mounting unmounts.
  const mounted = await mountRootfs(req.rootfs, bundleRootfs);
  try {
    const setup = await specFromBundle(req, runtime, mounted.rootfs, dir);
    return mounted.cleanup ? { ...setup, cleanup: mounted.cleanup } : setup;
  } catch (err) {
    await mounted.cleanup?.().catch(() => {});
    throw err;
  }
}

async function specFromBundle(
  req: CreateTaskRequest,
  runtime: RuntimeSpec,
  rootfs: string,
  pauseDir: string,
): Promise<TaskSetup> {
  const args = runtime.process?.args ?? [];
  if (!args[0]) throw invalidArgument(`task ${req.id}: the runtime spec has no process.args`);
  const env = envRecord(runtime.process?.env ?? []);
  const cwd = runtime.process?.cwd ?? "/";
  let module: ModuleRef;
  try {
    module = await resolveModule(rootfs, args[0], cwd, env.PATH);
    await checkWasm(module.host, args[0]);
  } catch (err) {
    const notWasm =
      err instanceof ShimError && (err.code === Code.NotFound || err.code === Code.FailedPrecondition);
    if (!notWasm || !isCriSandbox(runtime)) throw err;
    // The pod's pause container: wait until killed, with no filesystem (DESIGN decision 17).
    const spec: RunSpec = {
      module: await ensurePauseModule(pauseDir),
      args,
      env,
      preopens: {},
      cwd,
      ...stdioTargets(req),
    };
    return { spec, bundle: req.bundle, rootfs };
  }
  const limit = runtime.linux?.resources?.memory?.limit;
  const spec: RunSpec = {
    module: module.host,
    args: [module.guest, ...args.slice(1)],
    env,
    preopens: { ...(await mountPreopens(runtime.mounts)), "/": rootfs },
    cwd,
    ...stdioTargets(req),
    ...(limit && limit > 0 ? { memoryLimit: limit } : {}),
    ...(module.entry ? { entry: module.entry } : {}),
  };
  return { spec, bundle: req.bundle, rootfs };
}

/** An exec: an OCI Process (JSON in `spec`) run in the container's rootfs with its preopens. */
export async function setupExec(
  container: TaskSetup,
  processJson: Uint8Array,
  stdio: StdioRequest,
  what: string,
): Promise<RunSpec> {
  let process: { args?: string[]; env?: string[]; cwd?: string };
  try {
    process = JSON.parse(Buffer.from(processJson).toString("utf8"));
  } catch (err) {
    throw invalidArgument(`${what}: the process spec is not JSON: ${(err as Error).message}`);
  }
  const args = process.args ?? [];
  if (!args[0]) throw invalidArgument(`${what}: the process spec has no args`);
  const env = envRecord(process.env ?? []);
  const cwd = process.cwd ?? "/";
  const module = await resolveModule(container.rootfs, args[0], cwd, env.PATH);
  await checkWasm(module.host, args[0]);
  const { entry: _containerEntry, ...base } = container.spec;
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
