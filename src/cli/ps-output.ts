/** What `nodewasi ps` prints: the table and the JSON of a shim's tasks. */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Status, type TaskInfo } from "../gen/index.js";
import { formatTable } from "./format.js";

export { Status };

/** `stopped`, `running`...: containerd's status names, lower case. */
export function statusName(s: Status): string {
  return (Status[s] ?? "unknown").toLowerCase();
}

/** `12s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function ago(date: Date, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A task as `--json` prints it. */
export function taskJson(t: TaskInfo) {
  return {
    id: t.id,
    image: t.image,
    pid: t.pid,
    status: statusName(t.status),
    exitStatus: t.status === Status.STOPPED ? t.exitStatus : null,
    createdAt: t.createdAt ? timestampDate(t.createdAt).toISOString() : null,
    exitedAt: t.exitedAt && t.status === Status.STOPPED ? timestampDate(t.exitedAt).toISOString() : null,
    args: t.args,
    stdout: t.stdout,
    stderr: t.stderr,
    bundle: t.bundle,
  };
}

/** The table: ID, IMAGE, PID, STATUS, EXIT, CREATED, COMMAND. */
export function taskRows(tasks: TaskInfo[]): string {
  const rows = tasks.map((t) => [
    t.id,
    t.image || "-",
    t.pid ? String(t.pid) : "-",
    statusName(t.status),
    t.status === Status.STOPPED ? String(t.exitStatus) : "-",
    t.createdAt ? ago(timestampDate(t.createdAt)) : "-",
    t.args.join(" "),
  ]);
  return formatTable(["ID", "IMAGE", "PID", "STATUS", "EXIT", "CREATED", "COMMAND"], rows);
}
