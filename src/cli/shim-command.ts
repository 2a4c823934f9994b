/**
 * `nodewasi shim serve`: the standalone shim daemon in the foreground (shim-daemon.ts). It prints nothing on
 * stdout; `--debug` logs to stderr. SIGTERM or SIGINT stop it cleanly (guests killed, socket removed, exit
 * 0), as does a Shutdown RPC once no task is left, or `--idle-timeout`.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { createLogger, daemonReadiness } from "../internal/index.js";
import type { Daemon } from "../shim/index.js";
import { type CliState, contextFor } from "./context.js";
import { socketPath } from "./shim-address.js";

interface ServeFlags {
  idleTimeout: number;
  isolation: "auto" | "bwrap" | "none";
  pool?: number;
}

/** Parses a count or number of seconds: a non-negative integer. */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`${value} is not a whole number of 0 or more`);
  }
  return n;
}

/** Registers `shim` (with `serve`) on `parent`. */
export function shimCommand(parent: Command, state: CliState, version: string): Command {
  const shim = parent
    .command("shim")
    .description("run the nodewasi shim daemon that `nodewasi run` talks to")
    .helpCommand(false);
  shim
    .command("serve")
    .description(
      "serve the Task (containerd.task.v2 and v3), Images and Tasks services over gRPC on a unix socket",
    )
    .option(
      "--idle-timeout <seconds>",
      "exit after this long with no live task and no call; 0 never",
      nonNegativeInt,
      0,
    )
    .addOption(
      new Option(
        "--isolation <mode>",
        "run guests under bubblewrap: auto (when usable), bwrap (required), none",
      )
        .choices(["auto", "bwrap", "none"])
        .default("auto"),
    )
    .option("--pool <n>", "warm runner processes kept ready (default 2; 0 disables)", nonNegativeInt)
    .addHelpText(
      "after",
      `
The socket is the global --address (default $NODEWASI_ADDRESS, else nodewasi.sock in $XDG_RUNTIME_DIR/nodewasi
or /run/nodewasi as root); its folder is made 0700 and the socket 0600. Images are pulled into, and tasks run
from, the global --root, which it owns while it runs: a second daemon on the same root refuses, naming the
first one's pid and address, and a daemon taking a root removes the task folders a dead one left. Idle
means: no task created, running or paused, and no call in flight; stopped tasks do not keep the daemon up,
and are deleted when it exits. \`nodewasi run\` starts this daemon by itself, with
--idle-timeout 30, when nothing listens on the address. Nothing is printed on stdout; --debug logs to stderr.

Examples:
  $ nodewasi shim serve
  $ nodewasi --address /tmp/nw/shim.sock --root /tmp/nw shim serve --idle-timeout 60
  $ nodewasi --debug shim serve --isolation none --pool 4`,
    )
    .action(async (flags: ServeFlags, cmd: Command) => {
      // `nodewasi run` waits on this when it started the daemon (shim-client.ts).
      const readiness = daemonReadiness();
      let daemon: Daemon;
      try {
        const ctx = contextFor(cmd, state);
        const address = socketPath(cmd.optsWithGlobals<{ address?: string }>().address);
        const logger = createLogger({ level: ctx.debug ? "debug" : "warn", name: "nodewasi shim" });
        const { startShimDaemon } = await import("./shim-daemon.js");
        daemon = await startShimDaemon({
          root: ctx.root,
          address,
          idleTimeoutMs: flags.idleTimeout * 1000,
          isolation: flags.isolation,
          logger,
          logEvents: ctx.debug,
          version,
          ...(flags.pool !== undefined ? { pool: flags.pool } : {}),
        });
      } catch (err) {
        readiness.failed(err);
        throw err;
      }
      readiness.ready();
      const { stopOnSignals } = await import("../shim/index.js");
      stopOnSignals(daemon);
      await daemon.closed;
    });
  return shim;
}
