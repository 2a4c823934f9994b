/**
 * Mounts a test may leave behind: tasks' overlay rootfs (src/shim/task-rootfs.ts) and the shared bind of their
 * folder, when the shim holding them was killed or the TaskService under test deleted no task.
 */
import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { mountsBelow } from "../../src/internal/index.js";

/** Detaches every mount below `dir` (deepest first), so that `dir` can be removed. */
export function unmountUnder(dir: string): void {
  const real = existsSync(dir) ? realpathSync(dir) : dir;
  for (const m of mountsBelow(real)) spawnSync("umount", ["-l", m], { stdio: "ignore" });
}
