/**
 * One runner process seen from the parent: spawned (directly or under bwrap), booted (`ready`), given one spec
 * (`started` or `failed`), then ended (`exit` status over IPC, then the process's own exit). Used by
 * ChildRunner for warm and cold runners alike.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Stream } from "node:stream";
import { fileURLToPath } from "node:url";
import { Code, ShimError } from "../internal/index.js";
import type { ExitStatus } from "./runner.js";
import type { ChildSpec, FromRunner, ToRunner } from "./runner-protocol.js";
import { killedBy, signalNumber } from "./signals.js";

const RUNNER_MAIN = fileURLToPath(new URL("./runner-main.js", import.meta.url));
const STDERR_KEEP = 4096;

export interface SpawnOptions {
  /** Extra stdio for the child from fd 4 on (fd 3 is IPC): caller fds and logger sockets. */
  extraStdio?: (number | Stream)[];
  /** bwrap path and its arguments before `--`; absent = no sandbox. */
  sandbox?: { bwrap: string; args: string[] };
  /** `--wasm-max-mem-pages` on Node's command line (decision 9). */
  maxPages?: number;
}

/** The end of a runner: the status it reported, and how its process ended. */
export interface RunnerEnd {
  status: ExitStatus;
  /** Last bytes the runner itself wrote to stderr (Node crashes; never guest output). */
  stderr: string;
  /** Whether the runner reported the status itself (else it was killed or crashed). */
  reported: boolean;
}

/**
 * Spawns a runner at construction. `ready` resolves with its host pid (under bwrap, the runner's, not bwrap's);
 * `run()` may be called once; `ended` always settles, with the status of decision 6.
 */
export class RunnerProcess {
  readonly child: ChildProcess;
  /** Resolves with the runner's host pid once Node has booted. */
  readonly ready: Promise<number>;
  /**
   * The runner's host pid: `child.pid` without a sandbox; under bwrap (where `child.pid` is bwrap's) known only
   * once `ready`, and undefined before.
   */
  pid: number | undefined;
  /** Settles after the process exited and its stdio closed. */
  readonly ended: Promise<RunnerEnd>;
  /** Settles when the guest reported hitting its memory cap (never when it did not). */
  readonly oom: Promise<void>;
  #oomSeen!: () => void;
  #reported: Extract<FromRunner, { type: "exit" }> | undefined;
  #startWaiter: { resolve: () => void; reject: (e: ShimError) => void } | undefined;
  #stderrTail = "";
  #gone = false;
  /** The signal a SIGKILL was sent for (killAs): how the runner is reported to have ended, if it was. */
  #killedAs: number | undefined;

  constructor(opts: SpawnOptions = {}) {
    const node = [
      process.execPath,
      "--no-warnings",
      ...(opts.maxPages === undefined ? [] : [`--wasm-max-mem-pages=${Math.max(1, opts.maxPages)}`]),
      RUNNER_MAIN,
    ];
    const [file, args] = opts.sandbox
      ? [opts.sandbox.bwrap, [...opts.sandbox.args, "--", ...node]]
      : [node[0]!, node.slice(1)];
    // The runner's env is empty: the guest's env comes from the spec only, and nothing of the shim's leaks.
    // Its own session and process group (bwrap and the runner under it share it, see sandbox.ts), so a
    // terminal's ^C reaches the CLI, which forwards it as a Kill, and not every runner at once; and killGroup
    // ends bwrap and its child in one call.
    this.child = spawn(file, args, {
      stdio: ["ignore", "ignore", "pipe", "ipc", ...(opts.extraStdio ?? [])],
      env: {},
      detached: true,
    });
    this.pid = opts.sandbox ? undefined : this.child.pid;
    // bwrap that died of something else early (killed from outside) leaves its child in the group, waiting
    // for a setup that never ends: sweep the group as soon as bwrap is reaped (its id cannot have been reused
    // while that child holds it, and in the same tick nobody else can have taken it).
    if (opts.sandbox) this.child.once("exit", () => signalGroup(this.child.pid, "SIGKILL"));
    this.child.stderr?.on("data", (b: Buffer) => {
      this.#stderrTail = (this.#stderrTail + b.toString()).slice(-STDERR_KEEP);
    });
    this.oom = new Promise((resolve) => {
      this.#oomSeen = resolve;
    });
    this.ready = new Promise<number>((resolve, reject) => {
      this.child.on("message", (msg: FromRunner) => {
        if (msg.type === "ready") {
          this.pid = msg.pid;
          resolve(msg.pid);
        } else if (msg.type === "started") this.#startWaiter?.resolve();
        else if (msg.type === "failed") this.#startWaiter?.reject(new ShimError(msg.code, msg.message));
        else if (msg.type === "exit") this.#reported = msg;
        else if (msg.type === "oom") this.#oomSeen();
      });
      this.child.once("error", (err) =>
        reject(new ShimError(Code.Internal, `runner: cannot start ${file} (${err.message})`, { cause: err })),
      );
      this.child.once("exit", (code, signal) =>
        reject(this.#diedEarly(`while booting (${signal ? `killed by ${signal}` : `status ${code}`})`)),
      );
    });
    this.ready.catch(() => {});
    this.ended = new Promise<RunnerEnd>((resolve) => {
      this.child.once("close", (code, signal) => {
        this.#gone = true;
        this.#startWaiter?.reject(this.#diedEarly("before the guest started"));
        resolve({
          status: this.#statusOf(code, signal, opts.sandbox !== undefined),
          stderr: this.#stderrTail,
          reported: this.#reported !== undefined,
        });
      });
    });
  }

  /** Sends the spec; resolves once the guest is about to run, rejects (ShimError) when it cannot. */
  run(spec: ChildSpec): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#gone) return reject(this.#diedEarly("before the guest started"));
      this.#startWaiter = { resolve, reject };
      this.child.send({ type: "run", spec } satisfies ToRunner);
    });
  }

  /**
   * Sends `signal` to the runner's whole process group: bwrap and the runner under it (or the runner alone),
   * at any stage of their start. Only while our child has not been reaped: until then its pid, which is the
   * group's id, cannot name anyone else's group.
   */
  killGroup(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    signalGroup(this.child.pid, signal);
  }

  /**
   * Ends the runner with SIGKILL on behalf of signal `signo`, which it cannot take itself (signals.ts
   * `standsIn`); an end by that SIGKILL is reported as an end by `signo`.
   */
  killAs(signo: number): void {
    this.#killedAs ??= signo;
    this.killGroup("SIGKILL");
  }

  /** Keeps an idle warm runner from holding the parent's event loop open (and lets a busy one hold it). */
  setRef(ref: boolean): void {
    const handles = [this.child, this.child.channel, this.child.stderr] as ({
      ref(): void;
      unref(): void;
    } | null)[];
    for (const h of handles) {
      if (ref) h?.ref();
      else h?.unref();
    }
  }

  #diedEarly(when: string): ShimError {
    const tail = this.#stderrTail.trim();
    return new ShimError(
      Code.Internal,
      `runner process ${this.child.pid ?? "?"} exited ${when}${tail ? `: ${tail}` : ""}; run with --debug, and check that bwrap and node work here`,
    );
  }

  /**
   * Decision 6: the status the runner reported wins (proc_exit, return, trap); else a signal gives 128+signo
   * (the one a SIGKILL stood in for, if it did). bwrap turns its child's death by signal into its own exit
   * status 128+signo (it does not die of it), so under bwrap a status above 128 with no report means a signal
   * too.
   */
  #statusOf(code: number | null, signal: NodeJS.Signals | null, sandboxed: boolean): ExitStatus {
    const at = new Date();
    const r = this.#reported;
    if (r) {
      const s: ExitStatus = { code: r.code, at };
      if (r.trap !== undefined) s.trap = r.trap;
      if (r.oom) s.oom = true;
      return s;
    }
    let signo = signal ? signalNumber(signal) : undefined;
    if (signo === undefined && sandboxed && code !== null && code > 128) signo = code - 128;
    if (signo === 9 && this.#killedAs !== undefined) signo = this.#killedAs;
    if (signo !== undefined) return killedBy(signo, at);
    return { code: code ?? 255, at };
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
