/**
 * A containerd bundle whose rootfs does not hold the module, but whose runtime spec names the image
 * (image-annotations.ts): the shim pulls the image with its own client (DESIGN "Flows") and runs its module
 * with the spec's args, env and cwd. This is how wasm artifact images run under a containerd that cannot
 * unpack them (1.6 refuses their layers; `ctr run --rootfs DIR --annotation io.nodewasi.image=REF`), and how
 * a runwasi wasm-layer image runs under a containerd that unpacks it to an empty rootfs (1.7.7+, 2.x).
 *
 * What args mean, given that containerd derived them from an image config it may not have had:
 * - none (ctr `--rootfs` without a command; an artifact's config has no Entrypoint): the image's entrypoint,
 *   as containerd's `WithImageConfig` would have set it.
 * - an image with tar layers: its rootfs is copied into the container's rootfs (the container's own writable
 *   root; what is there already wins) and `args[0]` is resolved in it as for any bundle.
 * - an image whose module is a raw layer: the layer is the module, and the args are the guest's argv as
 *   given, `args[0]` with an optional `#export` suffix; `args[0]` names no file (runwasi runs an OCI wasm
 *   layer the same way, and a CRI pod of an artifact image must name some command).
 */
import { cp } from "node:fs/promises";
import { basename } from "node:path";
import { Code, invalidArgument, notFound, ShimError } from "../internal/index.js";
import type { PullResult } from "../oci/index.js";
import { envRecord, type ModuleRef, type RuntimeSpec, resolveWasmModule, splitEntry } from "./bundle.js";
import type { AnnotatedImage } from "./image-annotations.js";
import type { ImageResolver } from "./image-resolver.js";

export interface AnnotatedImageRequest {
  /** The task id, for messages. */
  id: string;
  runtime: RuntimeSpec;
  /** The container's rootfs (containerd's mount, or the spec's directory). */
  rootfs: string;
  named: AnnotatedImage;
  /** What the rootfs lacked, for messages: `the rootfs has no /app.wasm`. */
  missing: string;
  images: ImageResolver;
}

/** What the task runs: the module, the guest's whole argv, its environment and working directory. */
export interface ImageRun {
  image: PullResult;
  module: ModuleRef;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/** The argv an image runs with when given none: its entrypoint, else its module's file name. */
export function imageArgv(image: PullResult): string[] {
  return image.entrypoint.length ? image.entrypoint : [`/${basename(image.module.source)}`];
}

/**
 * Pulls the annotated image (the store's copy when there is one, as a kubelet's IfNotPresent does; wasm
 * platform selection; credentials from the Docker config) and finds what to run in it. A failed pull is
 * reported with what the rootfs lacked, keeping the pull's code: `task app: the rootfs has no /app.wasm, and
 * pulling REF (named by the annotation A) failed: ...`.
 */
export async function runFromAnnotatedImage(r: AnnotatedImageRequest): Promise<ImageRun> {
  const { image: ref, annotation } = r.named;
  const what = `task ${r.id}: ${r.missing}`;
  let image: PullResult;
  try {
    // A spec must not make the shim (root) read host paths as images: registry references only.
    if ((await import("../oci/index.js")).parseSourceSpec(ref).kind !== "registry") {
      throw invalidArgument(`${ref} is a local image layout; the shim pulls registry references only`);
    }
    image = await r.images.resolve({ image: ref, policy: "missing", why: `${what}; ${annotation}` });
  } catch (err) {
    const e = ShimError.from(err);
    throw new ShimError(
      e.code,
      `${what}, and pulling ${ref} (named by the annotation ${annotation}) failed: ${e.rawMessage}`,
      { cause: e, details: e.details, temporary: e.temporary },
    );
  }
  const proc = r.runtime.process ?? {};
  const argv = proc.args?.length ? proc.args : imageArgv(image);
  // The image's environment first, the spec's over it; the spec's cwd unless it is containerd's default "/".
  const env = { ...envRecord(image.env), ...envRecord(proc.env ?? []) };
  const cwd = proc.cwd && proc.cwd !== "/" ? proc.cwd : image.workingDir;
  const argv0 = argv[0] ?? "";
  if (!image.rootfs) {
    const { file, entry } = splitEntry(argv0);
    const module = {
      host: image.module.path,
      guest: file,
      digest: image.module.digest,
      ...(entry ? { entry } : {}),
    };
    return { image, module, args: [file, ...argv.slice(1)], env, cwd };
  }
  try {
    await cp(image.rootfs, r.rootfs, {
      recursive: true,
      verbatimSymlinks: true,
      force: false,
      errorOnExist: false,
    });
  } catch (err) {
    const e = ShimError.from(err);
    throw new ShimError(e.code, `${what}; copying ${ref}'s files into it failed: ${e.rawMessage}`, {
      cause: e,
    });
  }
  try {
    const module = await resolveWasmModule(r.rootfs, argv0, cwd, env.PATH);
    return { image, module, args: [module.guest, ...argv.slice(1)], env, cwd };
  } catch (err) {
    if (!(err instanceof ShimError) || err.code !== Code.NotFound) throw err;
    throw notFound(
      `${what}, and neither has ${ref} (named by the annotation ${annotation}): ${err.rawMessage}; ` +
        `the image runs ${imageArgv(image).join(" ")} when the container is given no args`,
      { cause: err },
    );
  }
}
