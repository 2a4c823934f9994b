/**
 * `nodewasi kill ID [SIGNAL]`: sends a signal to a task's guest (Task.Kill, default SIGTERM). A guest ended
 * by a signal exits with 128 + its number (DESIGN decision 6).
 */
import type { Command } from "commander";
import { validateIdentifier } from "../internal/index.js";
import { type CliState, contextFor } from "./context.js";
import { socketPath } from "./shim-address.js";
import { parseSignal } from "./signal-name.js";

/** Registers `kill` on `parent`. */
export function killCommand(parent: Command, state: CliState): Command {
  return parent
    .command("kill")
    .description("send a signal to a task (default SIGTERM)")
    .argument("<id>", "the task id (nodewasi ps)")
    .argument("[signal]", "a name (TERM, SIGKILL, int) or a number", "SIGTERM")
    .addHelpText(
      "after",
      `
Any signal ends a wasm guest (a guest cannot catch one); its exit status is then 128 + the signal's number.

Examples:
  $ nodewasi kill 3f2a9c0b1d4e
  $ nodewasi kill 3f2a9c0b1d4e KILL
  $ nodewasi kill 3f2a9c0b1d4e 9`,
    )
    .action(async (id: string, signal: string, _flags: object, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      validateIdentifier(id, "task id");
      const signo = parseSignal(signal);
      const address = socketPath(cmd.optsWithGlobals<{ address?: string }>().address);
      const { connectExisting } = await import("./shim-client.js");
      const shim = await connectExisting(ctx, address, `kill ${id}`);
      try {
        await shim.task.kill({ id, signal: signo });
      } finally {
        shim.close();
      }
    });
}
