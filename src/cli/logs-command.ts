/**
 * `nodewasi logs [-f] ID`: prints a detached task's output, `<root>/logs/<id>.log` and the files rotated from
 * it (`<id>.log.1`, older, ...), oldest first (stdout and stderr in the order written). `-f` keeps printing
 * what is appended until the task stops, through rotations (src/wasi/log-reader.ts). A task run attached has
 * no log: its output went to the terminal that ran it.
 */
import type { Command } from "commander";
import { Code, notFound, ShimError, validateIdentifier } from "../internal/index.js";
import { type CliState, contextFor } from "./context.js";
import { logPathFor } from "./run-command.js";
import { socketPath } from "./shim-address.js";
import type { ShimClients } from "./shim-client.js";

/** Registers `logs` on `parent`. */
export function logsCommand(parent: Command, state: CliState): Command {
  return parent
    .command("logs")
    .description("print the output of a task started with run -d")
    .argument("<id>", "the task id")
    .option("-f, --follow", "keep printing new output until the task stops")
    .addHelpText(
      "after",
      `
The log is <root>/logs/ID.log, and ID.log.1, ID.log.2... once it was rotated (run --log-opt max-size, max-file):
all are printed, oldest first. It outlives the task and the shim daemon, until \`nodewasi rm ID\`.

Examples:
  $ nodewasi logs 3f2a9c0b1d4e
  $ nodewasi logs -f 3f2a9c0b1d4e`,
    )
    .action(async (id: string, flags: { follow?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      // An id names a log file: `../x` would name one outside <root>/logs.
      validateIdentifier(id, "task id");
      const address = socketPath(cmd.optsWithGlobals<{ address?: string }>().address);
      const path = logPathFor(ctx.root, id);
      const { connectShim } = await import("./shim-client.js");
      const shim = await connectShim(ctx, address, { start: false });
      try {
        const { copyLog, logExists } = await import("../wasi/index.js");
        if (!(await logExists(path))) throw await noLog(id, path, shim);
        const live = flags.follow && shim ? () => isLive(shim, id) : undefined;
        await copyLog(path, toStdout, live ? { live } : {});
      } finally {
        shim?.close();
      }
    });
}

/** Writes to stdout; resolves once the bytes are written (copyLog reuses its buffer), which also paces it. */
function toStdout(bytes: Buffer): Promise<void> {
  return new Promise<void>((resolve) => {
    process.stdout.write(bytes, () => resolve());
  });
}

async function isLive(shim: ShimClients, id: string): Promise<boolean> {
  const { Status } = await import("../gen/index.js"); // loaded by the shim client already; not by --help
  const t = await shim.tasks.list({ id }).then(
    (r) => r.tasks[0],
    () => undefined,
  );
  return t !== undefined && t.status !== Status.STOPPED;
}

/** Why there is no log for `id`: run attached, or no such task. */
async function noLog(id: string, path: string, shim: ShimClients | undefined): Promise<ShimError> {
  const t = shim
    ? await shim.tasks.list({ id }).then(
        (r) => r.tasks[0],
        () => undefined,
      )
    : undefined;
  if (t) {
    return new ShimError(
      Code.FailedPrecondition,
      `task ${id} has no log: it was run attached, so its output went to the terminal that ran it`,
      { details: { hint: "start tasks with `nodewasi run -d` to keep their output in a log" } },
    );
  }
  return notFound(`no log for task ${id} (${path}) and no such task`, {
    details: { hint: "list tasks with `nodewasi ps -a`; check --root and --address" },
  });
}
