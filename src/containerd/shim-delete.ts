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
 *
 * containerd waits for this process before `ctr run --rm` can remove the container, so it loads only Node's
 * own modules in the usual case (the daemon unmounted and exited): the response is encoded here rather than
 * through @bufbuild/protobuf and gen/ (which take longer to load than Node takes to boot), and shim/ is
 * loaded only when a rootfs is still mounted.
 */
import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

/** Cleans up what a dead shim left in `bundle`; returns the DeleteResponse bytes and any warnings. */
export async function shimDelete(bundle: string): Promise<{ response: Uint8Array; warnings: string[] }> {
  const warnings: string[] = [];
  await killOrphans(bundle).catch((err: Error) => warnings.push(`killing leftover runners: ${err.message}`));
  const rootfs = join(bundle, "rootfs");
  if (await mayBeMounted(bundle, rootfs)) {
    const { unmountRootfs } = await import("../shim/index.js");
    await unmountRootfs(rootfs).catch((err: Error) => warnings.push(err.message));
  }
  const response = encodeDeleteResponse({ pid: 0, exitStatus: 137, exitedAt: new Date() });
  return { response, warnings };
}

/**
 * Whether something may be mounted on `rootfs`: the shim mounts only overlays there (shim/rootfs-mounts.ts),
 * whose root has a device number of its own, so the same device as the bundle means no mount. Anything odd
 * (rootfs unreadable, a dead FUSE mount) says yes, and unmountRootfs decides from the mount table.
 */
async function mayBeMounted(bundle: string, rootfs: string): Promise<boolean> {
  try {
    const [b, r] = await Promise.all([stat(bundle), stat(rootfs)]);
    return b.dev !== r.dev;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

/**
 * `containerd.task.v2.DeleteResponse{pid = 1, exit_status = 2, exited_at = 3 (google.protobuf.Timestamp
 * {seconds = 1, nanos = 2})}` in protobuf's binary form, byte for byte what `toBinary(DeleteResponseSchema)`
 * gives (shim-delete.test.ts checks it): varint fields, zero values left out, the timestamp length-delimited.
 */
export function encodeDeleteResponse(r: { pid: number; exitStatus: number; exitedAt: Date }): Uint8Array {
  const ms = r.exitedAt.getTime();
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  const timestamp = [...varintField(1, seconds), ...varintField(2, nanos)];
  return Uint8Array.from([
    ...varintField(1, r.pid),
    ...varintField(2, r.exitStatus),
    (3 << 3) | 2,
    ...varint(timestamp.length),
    ...timestamp,
  ]);
}

/** A varint field (wire type 0) with its tag, or nothing for 0 (proto3 leaves defaults out). */
function varintField(field: number, value: number): number[] {
  return value === 0 ? [] : [field << 3, ...varint(value)];
}

/** Base-128 varint of a non-negative integer (up to 2^53; a negative int64 never occurs here). */
function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
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
