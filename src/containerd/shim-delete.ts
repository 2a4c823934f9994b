/**
 * `containerd-shim-nodewasi-v1 ... -bundle B delete` (reference containerd-shim-protocol.md §1.2, §1.5):
 * containerd runs it after EVERY task teardown (from the connection's on-close callback) and after a shim
 * crash, parses stdout as a `containerd.task.v2.DeleteResponse`, logs stderr as "cleanup warnings" and a
 * non-zero exit as "failed to delete". So it always answers, even when the daemon is already gone:
 * `{pid: 0, exit_status: 137, exited_at: now}` as runwasi does (the real status, if any, went out in
 * /tasks/exit and Delete).
 *
 * Cleanup: runners end themselves when their IPC channel to a dead daemon breaks (wasi/runner-main.ts); as a
 * safety net, when the daemon `start` recorded in `shim.pid` is dead, whatever is left in its process group
 * is killed. `<bundle>/rootfs` is unmounted if it is still a mount point.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { DeleteResponseSchema } from "../gen/index.js";
import { unmountRootfs } from "../shim/index.js";

/** Cleans up what a dead shim left in `bundle`; returns the DeleteResponse bytes and any warnings. */
export async function shimDelete(bundle: string): Promise<{ response: Uint8Array; warnings: string[] }> {
  const warnings: string[] = [];
  await killOrphans(bundle).catch((err: Error) => warnings.push(`killing leftover runners: ${err.message}`));
  await unmountRootfs(join(bundle, "rootfs")).catch((err: Error) => warnings.push(err.message));
  const response = toBinary(
    DeleteResponseSchema,
    create(DeleteResponseSchema, { pid: 0, exitStatus: 137, exitedAt: timestampNow() }),
  );
  return { response, warnings };
}

/**
 * The daemon runs in its own session and process group (`start` spawns it detached); when it is gone but
 * members of its group live on, they are the task's orphans.
 */
async function killOrphans(bundle: string): Promise<void> {
  const text = await readFile(join(bundle, "shim.pid"), "utf8").catch(() => "");
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) return;
  if (alive(pid)) return; // a live daemon (serving its group's other tasks) cleans up after itself
  try {
    process.kill(-pid, "SIGKILL");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Whether `pid` runs (a zombie does not: it awaits a reaper that may be containerd, a subreaper). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (/\) Z /.test(stat)) return false;
  } catch {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
