/**
 * `nodewasi ps`: the tasks of the shim on --address (nodewasi.v1.Tasks/List): ID, IMAGE, PID, STATUS, EXIT,
 * CREATED, COMMAND. Live tasks only unless `-a`. With no shim listening there is no task, which is not an
 * error: the table is empty.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { Status, type TaskInfo } from "../gen/index.js";
import { type CliState, contextFor } from "./context.js";
import { formatTable } from "./format.js";
import { socketPath } from "./shim-address.js";

interface PsFlags {
  all?: boolean;
  json?: boolean;
  quiet?: boolean;
}

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

/** Registers `ps` on `parent`. */
export function psCommand(parent: Command, state: CliState): Command {
  return parent
    .command("ps")
    .description("list the tasks of the shim daemon")
    .option("-a, --all", "also list stopped tasks (not yet removed)")
    .option("--json", "print a JSON array: id, image, pid, status, exitStatus, times, args, stdio")
    .option("-q, --quiet", "print only the task ids")
    .addHelpText(
      "after",
      `
Tasks live in the shim daemon on --address; when no daemon listens, there are none. A stopped task stays listed
(with -a) until \`nodewasi rm\`, \`nodewasi run --rm\`, or the daemon's exit.

Examples:
  $ nodewasi ps
  $ nodewasi ps -a
  $ nodewasi ps -q | xargs -r nodewasi kill
  $ nodewasi ps -a --json | jq -r '.[] | select(.status == "stopped") | .id'`,
    )
    .action(async (flags: PsFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const address = socketPath(cmd.optsWithGlobals<{ address?: string }>().address);
      const { connectShim } = await import("./shim-client.js");
      const shim = await connectShim(ctx, address, { start: false });
      let tasks: TaskInfo[] = [];
      if (shim) {
        try {
          tasks = (await shim.tasks.list({})).tasks;
        } finally {
          shim.close();
        }
      } else ctx.logger.debug(`no shim listens on ${address}: no tasks`);
      if (!flags.all) tasks = tasks.filter((t) => t.status !== Status.STOPPED);
      if (flags.json) return ctx.out(`${JSON.stringify(tasks.map(taskJson), null, 2)}\n`);
      if (flags.quiet) return ctx.out(tasks.map((t) => `${t.id}\n`).join(""));
      const rows = tasks.map((t) => [
        t.id,
        t.image || "-",
        t.pid ? String(t.pid) : "-",
        statusName(t.status),
        t.status === Status.STOPPED ? String(t.exitStatus) : "-",
        t.createdAt ? ago(timestampDate(t.createdAt)) : "-",
        t.args.join(" "),
      ]);
      ctx.out(formatTable(["ID", "IMAGE", "PID", "STATUS", "EXIT", "CREATED", "COMMAND"], rows));
    });
}
