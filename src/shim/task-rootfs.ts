/**
 * A task's own writable view of its image's rootfs (issue 10 item 11). The store's rootfs is immutable image
 * content shared by every task of the image (its module is hardlinked into the module store), so a task never
 * writes to it; copying it for each task cost seconds for an image of 30,000 files.
 *
 * - As root, where the kernel has overlayfs: an overlay with the store's rootfs as its lower layer and an
 *   upper and work folder in the task's bundle, mounted on `<bundle>/rootfs` (one mount, whatever
 *   the image's size) and unmounted on Delete. Overlayfs never writes to a lower layer: a write copies the file
 *   up first, a delete leaves a whiteout, a hardlink is made in the upper layer, so no guest can change the
 *   store's inodes through it.
 * - Elsewhere (not root, no overlayfs, a store path that mount options cannot carry): a copy, whose cost grows
 *   with the image. Files are cloned where the file system can (reflinks: btrfs, XFS; `COPYFILE_FICLONE`,
 *   which falls back to a byte copy elsewhere): a clone shares the store's blocks copy-on-write, so a big file
 *   costs no copy and a write to it still never reaches the store. A hardlink farm would be as cheap, but a
 *   guest could then write through a link into the store's file (root ignores permission bits, and WASI lets
 *   a guest open any file it can see for writing).
 *
 * A warm sandboxed runner, started before the overlay existed, is given it by a bind into its own slot
 * (src/wasi/warm-slots.ts).
 */
import { constants } from "node:fs";
import { cp, mkdir, realpath, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { type Logger, mountOverlay, mountsBelow, silentLogger } from "../internal/index.js";
import { unmountRootfs } from "./rootfs-mounts.js";

export interface TaskRootfs {
  /** The folder the guest sees as `/`: `<bundle>/rootfs`. */
  rootfs: string;
  how: "overlay" | "copy";
  /** Unmounts the overlay and removes its upper layer (Delete calls it before the bundle goes); absent for a copy. */
  cleanup?: () => Promise<void>;
}

/** Whether overlays are tried at all: root, and not found unusable before in this process. */
let overlayUsable = process.getuid?.() === 0;

/**
 * Gives a task `<bundle>/rootfs`, its own writable view of `image` (a store rootfs). `bundle` exists and holds
 * nothing of another task (a daemon removes what a dead one left before it creates any: releaseTaskMounts,
 * then task-dirs.ts). Folders are made one at a time, so a full device says ENOSPC (ResourceExhausted), and
 * something already at `rootfs` fails the Create instead of being written over.
 */
export async function writableRootfs(
  image: string,
  bundle: string,
  log: Logger = silentLogger,
): Promise<TaskRootfs> {
  const rootfs = join(bundle, "rootfs");
  const upper = join(bundle, "upper");
  const work = join(bundle, "work");
  if (overlayUsable && ![image, upper, work].some((p) => /[,:\\\s]/.test(p))) {
    for (const d of [rootfs, upper, work]) await mkdir(d, { mode: 0o755 });
    try {
      await mountOverlay(image, upper, work, rootfs);
      const cleanup = async () => {
        await unmountRootfs(rootfs);
        await Promise.all([upper, work].map((d) => rm(d, { recursive: true, force: true })));
      };
      return { rootfs, how: "overlay", cleanup };
    } catch (err) {
      overlayUsable = false;
      log.warn(
        `overlayfs is not usable here, every task copies its image's rootfs (slow for big images): ${(err as Error).message}`,
      );
      // The folder made to mount on goes too (empty: nothing was mounted): Node 22 and later refuse to copy
      // onto an existing folder with errorOnExist, where Node 20 merged into it.
      await Promise.all([upper, work].map((d) => rm(d, { recursive: true, force: true })));
      await rmdir(rootfs);
    }
  }
  await cp(image, rootfs, {
    recursive: true,
    verbatimSymlinks: true,
    errorOnExist: true,
    force: false,
    mode: constants.COPYFILE_FICLONE,
  });
  return { rootfs, how: "copy" };
}

/**
 * Unmounts every mount below `tasksDir`: the overlays of tasks whose daemon was killed. A daemon calls it as it
 * starts, when it owns the root and no task of its own exists yet (a second daemon on the same root would take
 * the first one's rootfs away). Returns how many it unmounted.
 */
export async function releaseTaskMounts(tasksDir: string, log: Logger = silentLogger): Promise<number> {
  const real = await realpath(tasksDir).catch(() => undefined);
  if (real === undefined) return 0;
  const stale = mountsBelow(real);
  for (const m of stale) {
    await unmountRootfs(m).catch((err: Error) =>
      log.warn(`unmounting ${m}, left by a killed daemon: ${err.message}`),
    );
  }
  if (stale.length) log.debug(`unmounted ${stale.length} rootfs left by a killed daemon`, { tasksDir });
  return stale.length;
}
