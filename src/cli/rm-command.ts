/**
 * `nodewasi rm [-f] ID...`: deletes stopped tasks (Task.Delete) and their logs; `-f` kills a live one first
 * (SIGKILL) and waits for its exit. Each id is handled on its own: a failure is reported and the next goes on,
 * and the exit status is the first failure's.
 */
import { rm } from "node:fs/promises";
import type { Command } from "commander";
import { Code, ShimError } from "../internal/index.js";
import { type CliState, contextFor } from "./context.js";
import { logPathFor } from "./run-command.js";
import { socketPath } from "./shim-address.js";

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
      const { connectExisting } = await import("./shim-client.js");
      const shim = await connectExisting(ctx, address, `rm ${ids.join(" ")}`);
      try {
        for (const id of ids) {
          try {
            if (flags.force) {
              const waiting = shim.task.wait({ id });
              waiting.catch(() => {});
              // `all` kills only what still runs, so a stopped task is not an error here.
              await shim.task.kill({ id, signal: 9, all: true });
              await waiting;
            }
            await shim.task.delete({ id }).catch((err: unknown) => {
              const e = ShimError.from(err);
              if (e.code !== Code.FailedPrecondition) throw err;
              throw new ShimError(e.code, `task ${id} cannot be removed: ${e.rawMessage}`, {
                cause: err,
                details: { hint: `stop it first (\`nodewasi kill ${id}\`), or use \`nodewasi rm -f ${id}\`` },
              });
            });
            await rm(logPathFor(ctx.root, id), { force: true });
            ctx.out(`${id}\n`);
          } catch (err) {
            ctx.fail(err);
          }
        }
      } finally {
        shim.close();
      }
    });
}
