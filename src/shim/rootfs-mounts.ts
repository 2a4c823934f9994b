/**
 * The rootfs mounts of a containerd Create (`CreateTaskRequest.rootfs`, reference containerd-shim-protocol.md
 * §6.2): containerd hands the snapshotter's mounts over unmounted and the shim mounts them, as runc's
 * `NewContainer` does on `<bundle>/rootfs`. Two shapes occur for `ctr run`:
 *
 * - `bind` (native snapshotter; overlayfs with no parent): `{type: "bind", source: dir, options: [rbind, rw]}`.
 *   nodewasi reads the source in place: no mount, nothing to undo.
 * - `overlay` (overlayfs snapshotter): `mount -t overlay overlay -o <options> <bundle>/rootfs` with mount(8)
 *   (Node has no mount(2); the shim runs as root, as containerd's shims do), `umount` on Delete.
 *
 * Anything else is FailedPrecondition with the types seen.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { promisify } from "node:util";
import type { Mount } from "../gen/index.js";
import { Code, failedPrecondition, ShimError, unmountAll } from "../internal/index.js";

const run = promisify(execFile);

export interface MountedRootfs {
  /** The directory the guest sees as `/`. */
  rootfs: string;
  /** Undoes the mount (idempotent); absent when nothing was mounted. */
  cleanup?: () => Promise<void>;
}

/**
 * Makes `mounts` the container's rootfs, mounting onto `target` (`<bundle>/rootfs`) when needed. Throws
 * FailedPrecondition for several mounts or an unknown type, Internal when mount(8) fails (with its stderr).
 */
export async function mountRootfs(mounts: readonly Mount[], target: string): Promise<MountedRootfs> {
  if (mounts.length !== 1) {
    throw failedPrecondition(
      `rootfs: ${mounts.length} mounts (${mounts.map((m) => m.type).join(", ")}); nodewasi takes exactly one ` +
        "bind or overlay mount (the native or overlayfs snapshotter)",
    );
  }
  const m = mounts[0]!;
  const isBind = m.type === "bind" || m.options.includes("bind") || m.options.includes("rbind");
  if (isBind) {
    if (!m.source.startsWith("/"))
      throw failedPrecondition(`rootfs: bind source ${m.source} is not absolute`);
    return { rootfs: m.source };
  }
  if (m.type !== "overlay") {
    throw failedPrecondition(
      `rootfs: mount type ${m.type || "(none)"} is not supported; use the native or overlayfs snapshotter ` +
        "(bind or overlay mounts)",
    );
  }
  await mkdir(target, { recursive: true, mode: 0o711 });
  try {
    await run("mount", ["-t", "overlay", m.source || "overlay", "-o", m.options.join(","), target]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ShimError(
      Code.Internal,
      `rootfs: mount -t overlay onto ${target}: ${(e.stderr || e.message).trim()}`,
      {
        cause: err,
      },
    );
  }
  return { rootfs: target, cleanup: () => unmountAll(target) };
}

/**
 * Unmounts every mount stacked on a rootfs (containerd's `mount.UnmountAll`): retried while busy, then detached
 * lazily (internal/mount-ops.ts).
 */
export { unmountAll as unmountRootfs } from "../internal/index.js";
