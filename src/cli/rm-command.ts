/**
 * `nodewasi rm [-f] ID...`: deletes stopped tasks (Task.Delete) and their logs; `-f` kills a live one first
 * (SIGKILL) and waits for its exit. The log of a task its shim already forgot (it exited) is removed too,
 * rotated files included. Each id is handled on its own: a failure is reported and the next goes on,
 * and the exit status is the first failure's.
 */
import type { Command } from "commander";
import { Code, notFound, ShimError, validateIdentifier } from "../internal/index.js";
import { type CliState, contextFor } from "./context.js";
import { logPathFor } from "./run-command.js";
import { socketPath } from "./shim-address.js";
import type { ShimClients } from "./shim-client.js";

/** Registers `rm` on `parent`. */
export function rmCommand(parent: Command, state: CliState): Command {
  return parent
    .command("rm")
    .description("delete stopped tasks and their logs")
    .argument("<id...>", "task ids (nodewasi ps -a)")
    .option("-f, --force", "kill a task that still runs (SIGKILL), then delete it")
    .addHelpText(
      "after",
      `
The id of each task deleted is printed on stdout.

Examples:
  $ nodewasi rm 3f2a9c0b1d4e
  $ nodewasi rm -f 3f2a9c0b1d4e
  $ nodewasi ps -aq | xargs -r nodewasi rm -f`,
    )
    .action(async (ids: string[], flags: { force?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const address = socketPath(cmd.optsWithGlobals<{ address?: string }>().address);
      const { connectShim } = await import("./shim-client.js");
      const shim = await connectShim(ctx, address, { start: false });
      try {
        for (const id of ids) {
          try {
            // An id names a log file: `../x` would name one outside <root>/logs.
            validateIdentifier(id, "task id");
            const deleted = shim ? await deleteTask(shim, id, flags.force === true) : false;
            // The log outlives the task (a shim deletes its stopped tasks when it exits): remove it too.
            const { removeLog } = await import("../wasi/index.js");
            const hadLog = await removeLog(logPathFor(ctx.root, id));
            if (!deleted && !hadLog) {
              throw notFound(
                shim
                  ? `task ${id} not found`
                  : `task ${id} not found: no nodewasi shim listens on ${address}`,
                { details: { hint: "list tasks with `nodewasi ps -a`; check --address and --root" } },
              );
            }
            ctx.out(`${id}\n`);
          } catch (err) {
            ctx.fail(err);
          }
        }
      } finally {
        shim?.close();
      }
    });
}

/** Deletes task `id` (killing it first with `force`); false when the shim does not know it. */
async function deleteTask(shim: ShimClients, id: string, force: boolean): Promise<boolean> {
  try {
    if (force) {
      const waiting = shim.task.wait({ id });
      waiting.catch(() => {});
      // `all` kills only what still runs, so a stopped task is not an error here.
      await shim.task.kill({ id, signal: 9, all: true });
      await waiting;
    }
    await shim.task.delete({ id });
    return true;
  } catch (err) {
    const e = ShimError.from(err);
    if (e.code === Code.NotFound) return false;
    if (e.code !== Code.FailedPrecondition) throw err;
    throw new ShimError(e.code, `task ${id} cannot be removed: ${e.rawMessage}`, {
      cause: err,
      details: { hint: `stop it first (\`nodewasi kill ${id}\`), or use \`nodewasi rm -f ${id}\`` },
    });
  }
}
