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
A wasm guest handles no signal, so each has its default action, wherever the guest is (its start function, a
host call, paused): TERM, INT, HUP, KILL, USR1, PIPE and the others that end a process end it, with exit status
128 + the signal's number; STOP stops it (use pause and resume instead); CHLD, CONT, URG, WINCH and the
job-control TSTP, TTIN and TTOU leave it running.

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
