/**
 * The seam between tasks and the execution of a module (STYLE "Seams"): a run context in, an exit status
 * out. The child-process runner (child-runner.ts, DESIGN decision 5) is one implementation; tests of the Task
 * service use a fake. Nothing here knows of containers, tasks or containerd.
 */
import type { LogRotation } from "./rotating-log.js";

/**
 * The three standard streams of a process, each described by a `T`: a stdio URI where the CLI and containerd
 * hand them to the shim (StdioUris), a StdioTarget in a RunSpec, a ChildStdio in what a runner process receives.
 */
export interface Stdio<T> {
  stdin: T;
  stdout: T;
  stderr: T;
}

/** Where one of the guest's standard streams goes, as runc takes stdio URIs (DESIGN decision 16). */
export type StdioTarget =
  /** Nothing: /dev/null. */
  | { kind: "null" }
  /** A FIFO (or any path) opened by the runner: for stdin read-only and blocking, else write-only. */
  | { kind: "fifo"; path: string }
  /**
   * `file:///path`: appended to. With `rotate` (`file:///path?max-size=10m&max-file=3`), capped: the runner
   * rotates it as Docker's json-file driver does (rotating-log.ts).
   */
  | { kind: "file"; path: string; rotate?: LogRotation }
  /** `binary:///path?args`: a logging binary started with the stream on fd 3 (stdout) or 4 (stderr). */
  | { kind: "binary"; path: string; args: string[] }
  /** An fd the caller already holds (tests, the CLI); the runner duplicates nothing, it only uses it. */
  | { kind: "fd"; fd: number };

export interface RunSpec extends Stdio<StdioTarget> {
  /** Path of the module file on the host. */
  module: string;
  /**
   * What the module's bytes must hash to (`sha256:<hex>`), when the caller knows (a module from the content
   * store). The runner hashes the very bytes it compiles, so a module changed or damaged since it was stored
   * never runs, at no extra read (about 45 ms of CPU per 64 MiB).
   */
  moduleDigest?: string;
  /** argv as the guest sees it; argv[0] is usually the module's path in the image. */
  args: string[];
  env: Record<string, string>;
  /** Guest path -> host directory. `/` is usually the rootfs. */
  preopens: Record<string, string>;
  /** Guest working directory inside the rootfs, where a relative module path is found; WASI has no chdir. */
  cwd?: string;
  /** Cap on linear memory in bytes (DESIGN decision 9); undefined = the module's own limit. */
  memoryLimit?: number;
  /** Export to call instead of `_start` (`module.wasm#func`), for reactors. */
  entry?: string;
  /** Container id and namespace, given to a `binary://` logging binary as CONTAINER_ID / CONTAINER_NAMESPACE. */
  id?: string;
  namespace?: string;
}

export interface ExitStatus {
  /** 0-255: proc_exit(n) -> n & 0xff, return from _start -> 0, trap -> 134, signal -> 128 + signo. */
  code: number;
  /** When the process ended. */
  at: Date;
  /** Set when a signal ended it. */
  signal?: NodeJS.Signals;
  /** Set when a trap ended it: the trap message (also written to the guest's stderr). */
  trap?: string;
  /** Set when the memory cap was hit (for the /tasks/oom event). */
  oom?: boolean;
}

/** What `RunningProcess.stats` measures of a runner process (from /proc: proc-stats.ts). */
export interface ProcessStats {
  /** Resident memory (`VmRSS`), bytes. */
  memoryBytes: number;
  /** Peak resident memory (`VmHWM`), bytes. */
  peakMemoryBytes: number;
  /** The parts of the resident memory: anonymous, file-backed and shared (`RssAnon`, `RssFile`, `RssShmem`). */
  anonBytes: number;
  fileBytes: number;
  shmemBytes: number;
  /** Swapped out (`VmSwap`), bytes. */
  swapBytes: number;
  /** CPU time used, nanoseconds: user + system, and each. */
  cpuNanos: number;
  userNanos: number;
  systemNanos: number;
  /** Threads of the process: what a pids cgroup counts (`pids.current`). */
  threads: number;
  /** Page faults that needed no I/O (minor) and that did (major). */
  minorFaults: number;
  majorFaults: number;
}

/** A started guest. */
export interface RunningProcess {
  readonly pid: number;
  /**
   * Settles once the guest has exited and every stdio write end is closed and flushed (and a `binary://`
   * logger has exited). Never rejects.
   */
  readonly exited: Promise<ExitStatus>;
  /**
   * Settles after `exited`, once what the runner held for this process outside it is undone (a warm sandbox's
   * slot: the task's files bound into it, warm-slots.ts); absent when it held nothing. Never rejects. The exit
   * is reported without waiting for it (an unmount may cost a process spawn); whoever removes the task's files
   * (Delete) waits for it first.
   */
  readonly released?: Promise<void>;
  /**
   * Settles when the guest's memory growth failed at its memory cap (`memoryLimit`), seen at its next host
   * call, while it may go on running; never when it has no cap. The exit status also says `oom`.
   */
  readonly oom?: Promise<void>;
  /**
   * Sends a signal to the guest, wherever it is (its start function, `_start`, a host call), also when paused
   * (it is continued to take the signal). Every signal whose default action ends a process ends it, as it would
   * end a native process that handles none (a guest cannot handle signals): exit status 128 + signo. Those
   * whose default is to stop or to be ignored do that. A no-op once the process has exited.
   */
  kill(signal: NodeJS.Signals | number): void;
  /** SIGSTOP / SIGCONT. */
  pause(): void;
  resume(): void;
  stats(): Promise<ProcessStats>;
  /**
   * Closes the guest's stdin (CloseIO). In ChildRunner a no-op: the guest reads its stdin FIFO itself and gets
   * EOF when the last writer (the client) closes, so the shim must hold no write end of its own.
   */
  closeStdin(): void;
}

export interface Runner {
  /**
   * Starts a guest; resolves once the module is compiled and instantiated and its stdio are open (opening a
   * FIFO blocks until its other end is open, so open the readers and the stdin writer first), before any of
   * the guest's code runs (its start function included). Fails (ShimError: NotFound, InvalidArgument,
   * ResourceExhausted, FailedPrecondition) before anything runs when the spec cannot be honoured.
   *
   * `kill` is the Kill of a guest still starting: aborted before start() resolves, it ends whatever runs for
   * the spec at once (none of the guest's code has run), and start() rejects with its reason, but only once
   * that has really ended.
   */
  start(spec: RunSpec, kill?: AbortSignal): Promise<RunningProcess>;
  /** Stops warm processes and every guest still running. */
  close(): Promise<void>;
}
