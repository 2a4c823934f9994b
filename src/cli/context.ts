/**
 * What every command action receives: the global options resolved (state root, debug), a logger on stderr,
 * the two output streams, and a way to report a failure without ending the command (`rmi a b c` goes on
 * after `a` is missing). Commands print results to `out` and everything else to `err`.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { createLogger, defaultRoot, type Logger } from "../internal/index.js";
import { ExitCode, exitCodeFor } from "./exit-code.js";
import { reportError } from "./report-error.js";

export interface CliContext {
  /** The state root, absolute (it is handed to a shim daemon): `--root`, else `$NODEWASI_ROOT`, else `defaultRoot()`. */
  readonly root: string;
  readonly debug: boolean;
  /**
   * `--registry-timeout` (or `$NODEWASI_REGISTRY_TIMEOUT`) in ms; undefined leaves the default to whoever
   * pulls (oci/registry/timeouts.ts), which for a shim daemon is its own environment's.
   */
  readonly registryTimeoutMs: number | undefined;
  readonly logger: Logger;
  /** Writes command output (what a script reads) to stdout. */
  out(text: string): void;
  /** Writes progress and messages for people to stderr. */
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars) rather than a pipe or file (plain lines). */
  readonly stderrIsTTY: boolean;
  /** Prints a failure now and remembers its exit code; the command carries on. The worst code wins. */
  fail(err: unknown): void;
}

/** The shared, mutable part: the exit status the failures so far call for. */
export interface CliState {
  exitCode: number;
}

/** Builds the context for an action from its command's options merged with the global ones. */
export function contextFor(cmd: Command, state: CliState): CliContext {
  const globals = cmd.optsWithGlobals<{ root?: string; debug?: boolean; registryTimeout?: number }>();
  const debug = globals.debug === true;
  const root = resolve(globals.root || defaultRoot());
  return {
    root,
    debug,
    registryTimeoutMs: globals.registryTimeout,
    logger: createLogger({ level: debug ? "debug" : "warn", name: "nodewasi" }),
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    fail(err) {
      reportError(err, { debug });
      state.exitCode = worse(state.exitCode, exitCodeFor(err));
    },
  };
}

/** Interrupted beats everything; otherwise the first failure's code stands. */
function worse(current: number, next: number): number {
  if (next === ExitCode.Interrupted || current === ExitCode.Ok) return next;
  return current;
}
