/**
 * `nodewasi ps`: the tasks of the shim on --address (nodewasi.v1.Tasks/List): ID, IMAGE, PID, STATUS, EXIT,
 * CREATED, COMMAND. Live tasks only unless `-a`. With no shim listening there is no task, which is not an
 * error: the table is empty. The table and JSON are made by ps-output.ts, loaded by the action: it needs the
 * generated messages and protobuf's runtime, which `nodewasi --help` should not load.
 */
import type { Command } from "commander";
import type { TaskInfo } from "../gen/index.js";
import { type CliState, contextFor } from "./context.js";
import { socketPath } from "./shim-address.js";

interface PsFlags {
  all?: boolean;
  json?: boolean;
  quiet?: boolean;
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
      const { Status, taskJson, taskRows } = await import("./ps-output.js");
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
      ctx.out(taskRows(tasks));
    });
}
