/**
 * The messages between a ChildRunner, its runner processes (runner-main.ts) and the guest thread inside each
 * (runner-guest.ts). Plain JSON over Node's IPC channel and a worker port; nothing here is public API.
 */
import type { Stdio, StdioTarget } from "./runner.js";

/**
 * Where the runner finds one standard stream: a StdioTarget it can open itself (null, a FIFO, a file), or an fd
 * it was started with (`fd`: a caller's fd, or a logging binary's socket, passed in the spawn's stdio array).
 * Never `binary`: the logging binary is the shim's to start, as containerd's shim starts it (binary-logger.ts),
 * outside the runner's sandbox, and the runner gets the logger's sockets as fds.
 */
export type ChildStdio = Exclude<StdioTarget, { kind: "binary" }>;

/** A RunSpec as the runner receives it: stdio resolved to what the child can open, the cap in pages. */
export interface ChildSpec extends Stdio<ChildStdio> {
  module: string;
  /**
   * How messages name the module, when `module` is where a warm sandbox sees it rather than the host path the
   * caller gave (warm-slots.ts); default `module`.
   */
  moduleName?: string;
  /** RunSpec.moduleDigest: the runner refuses a module whose bytes hash otherwise. */
  moduleDigest?: string;
  args: string[];
  env: Record<string, string>;
  preopens: Record<string, string>;
  /** Memory cap in 64 KiB pages, applied by rewriting the module and by `--wasm-max-mem-pages`. */
  maxPages?: number;
  entry?: string;
}

/** Parent -> runner. */
export type ToRunner = { type: "run"; spec: ChildSpec };

/** Runner -> parent (the guest thread sends the same through the runner's main thread). */
export type FromRunner =
  /** Node has booted and node:wasi is loaded; `pid` is the runner's own (host) pid. */
  | { type: "ready"; pid: number }
  /** The module compiled and instantiated and stdio is open; the guest is about to run. */
  | { type: "started" }
  /** The spec could not be honoured; nothing ran. `code` is a gRPC code for ShimError. */
  | { type: "failed"; code: number; message: string }
  /** A watched guest's `memory.grow` failed at its memory cap; it may still run (grow-hook.ts). Sent once. */
  | { type: "oom" }
  /** The guest ended; its stdio and preopen fds are closed. The runner ends next (by SIGKILL: this is its status). */
  | { type: "exit"; code: number; trap?: string; oom?: boolean };
