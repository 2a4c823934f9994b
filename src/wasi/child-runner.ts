/**
 * The Runner of DESIGN decision 5: every guest in its own runner process (runner-main.ts), so a task has a
 * real pid, dies by any signal even when blocked in a host call, pauses by SIGSTOP and has /proc stats.
 * A small pool of warm runners, which have booted Node and loaded node:wasi and wait for a spec on IPC, hides
 * Node's ~0.1 s boot (reference node-wasi.md §1.9).
 *
 * The pool serves specs whose stdio are paths (FIFO, file, null) and runs without bwrap. A bwrap sandbox is
 * built per spec (its mounts are the spec's preopens, module and stdio paths, which a pre-started runner cannot
 * know), and caller fds or `binary://` loggers are passed in the spawn's stdio array; those runners start cold.
 */
import { closeSync, existsSync, constants as fsc, openSync } from "node:fs";
import { constants } from "node:os";
import type { Stream } from "node:stream";
import { Code, type Logger, notFound, ShimError, silentLogger } from "../internal/index.js";
import { type BinaryLogger, startBinaryLogger } from "./binary-logger.js";
import { pagesFor } from "./memory-cap.js";
import { procStats } from "./proc-stats.js";
import type { ExitStatus, ProcessStats, Runner, RunningProcess, RunSpec, StdioTarget } from "./runner.js";
import { RunnerProcess, type SpawnOptions } from "./runner-process.js";
import type { ChildSpec, ChildStdio } from "./runner-protocol.js";
import { bwrapArgs, findBwrap } from "./sandbox.js";

/** How a ChildRunner starts runners; every field has a default that suits a shim. */
export interface ChildRunnerOptions {
  /** Warm runner processes kept ready (default 2; 0 disables the pool). */
  pool?: number;
  /**
   * `bwrap`: every runner in a bubblewrap sandbox, and fail when bwrap cannot run; `none`: no sandbox; `auto`
   * (default): bwrap when it works here, else none with one warning (node:wasi alone can be escaped through a
   * directory symlink in a rootfs, DESIGN decision 8).
   */
  isolation?: "auto" | "bwrap" | "none";
  /** Where the no-sandbox warning and runner crashes are logged (default: silent). */
  logger?: Logger;
}

let warnedNoBwrap = false;

/**
 * Runs each guest in a runner process. `start()` resolves once the module is compiled and instantiated and
 * its stdio are open (FIFO opens block until the other end is open, as for runc), and rejects with a ShimError
 * naming the module, path or preopen when it cannot. `close()` SIGKILLs warm and running runners alike.
 */
export class ChildRunner implements Runner {
  /** The bwrap binary runners start under, or undefined when they run unsandboxed. */
  readonly bwrap: string | undefined;
  private readonly poolSize: number;
  private readonly log: Logger;
  private readonly warm: RunnerProcess[] = [];
  private readonly live = new Set<RunnerProcess>();
  private closed = false;

  constructor(opts: ChildRunnerOptions = {}) {
    this.log = opts.logger ?? silentLogger;
    const isolation = opts.isolation ?? "auto";
    this.bwrap = isolation === "none" ? undefined : findBwrap();
    if (isolation === "bwrap" && !this.bwrap) {
      throw new ShimError(
        Code.FailedPrecondition,
        "isolation bwrap: bubblewrap is not on PATH or cannot create namespaces here; install the bwrap package, allow unprivileged user namespaces, or use isolation none",
      );
    }
    if (isolation === "auto" && !this.bwrap && !warnedNoBwrap) {
      warnedNoBwrap = true;
      this.log.warn(
        "WARNING: bwrap (bubblewrap) is not usable here, guests run WITHOUT a sandbox: node:wasi can be escaped through a directory symlink in a rootfs or mount; install bubblewrap",
      );
    }
    this.poolSize = this.bwrap ? 0 : Math.max(0, opts.pool ?? 2);
    this.fill();
  }

  async start(spec: RunSpec): Promise<RunningProcess> {
    if (this.closed) throw new ShimError(Code.FailedPrecondition, "runner: closed; create a new ChildRunner");
    const loggers: BinaryLogger[] = [];
    const extra: (number | Stream)[] = [];
    /** A stdio fd for the child: the next fd after IPC (3). */
    const pass = (s: number | Stream): ChildStdio => ({ kind: "fd", fd: 4 + extra.push(s) - 1 });
    try {
      const binary = [spec.stdout, spec.stderr].find((t) => t.kind === "binary");
      let logger: BinaryLogger | undefined;
      if (binary?.kind === "binary") {
        logger = await startBinaryLogger(binary.path, binary.args, {
          id: spec.id ?? "",
          namespace: spec.namespace ?? "",
        });
        loggers.push(logger);
      }
      const stdio = (t: StdioTarget, stream: "stdin" | "stdout" | "stderr"): ChildStdio => {
        if (t.kind === "fd") return pass(t.fd);
        if (t.kind === "binary") {
          // One logger takes both streams (containerd's NewBinaryIO); terminal=true sends stderr to fd 3 too.
          const sock = stream === "stdout" || t === spec.stdout ? logger!.stdout : logger!.stderr;
          return pass(sock);
        }
        return t;
      };
      const child: ChildSpec = {
        module: spec.module,
        args: spec.args,
        // WASI has no chdir: the working directory is only told, as PWD (runner.ts), unless env sets one.
        env: spec.cwd !== undefined && spec.env.PWD === undefined ? { ...spec.env, PWD: spec.cwd } : spec.env,
        preopens: spec.preopens,
        stdin: stdio(spec.stdin, "stdin"),
        stdout: stdio(spec.stdout, "stdout"),
        stderr: stdio(spec.stderr, "stderr"),
      };
      // Same target object twice (terminal): the same passed fd, so the runner opens it once.
      if (spec.stderr === spec.stdout) child.stderr = child.stdout;
      if (spec.memoryLimit !== undefined) child.maxPages = pagesFor(spec.memoryLimit);
      if (spec.entry !== undefined) child.entry = spec.entry;
      const runner =
        extra.length === 0 && this.warm.length > 0 ? this.takeWarm() : this.spawnCold(spec, extra, child);
      this.live.add(runner);
      runner.ended.then((end) => {
        this.live.delete(runner);
        if (!end.reported && end.status.signal === undefined) {
          this.log.warn("runner: the runner process ended without reporting a status", {
            module: spec.module,
            code: end.status.code,
            stderr: end.stderr,
          });
        }
      });
      let pid: number;
      try {
        pid = await runner.ready;
        await runner.run(child);
      } catch (err) {
        runner.child.kill("SIGKILL");
        throw err;
      } finally {
        for (const l of loggers) l.release();
      }
      return new RunnerHandle(pid, runner, loggers);
    } catch (err) {
      for (const l of loggers) l.kill();
      throw ShimError.from(err, Code.Internal);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.warm, ...this.live];
    this.warm.length = 0;
    for (const r of all) {
      r.setRef(true); // an idle warm runner is unref'd; its end must keep the loop alive while we await it
      r.child.kill("SIGKILL");
    }
    await Promise.all(all.map((r) => r.ended));
  }

  /** Pids of the idle warm runners (for tests and `--debug` output). */
  warmPids(): number[] {
    return this.warm.flatMap((r) => (r.child.pid === undefined ? [] : [r.child.pid]));
  }

  private takeWarm(): RunnerProcess {
    const r = this.warm.shift()!;
    r.setRef(true);
    this.fill();
    return r;
  }

  private spawnCold(spec: RunSpec, extraStdio: (number | Stream)[], child: ChildSpec): RunnerProcess {
    const opts: SpawnOptions = { extraStdio };
    if (child.maxPages !== undefined) opts.maxPages = child.maxPages;
    if (this.bwrap) opts.sandbox = { bwrap: this.bwrap, args: bwrapArgs(sandboxPaths(spec, child)) };
    return new RunnerProcess(opts);
  }

  /** Tops the pool up; a warm runner that dies while idle (killed from outside) is dropped and replaced. */
  private fill(): void {
    while (!this.closed && this.warm.length < this.poolSize) {
      const r = new RunnerProcess();
      r.setRef(false);
      this.warm.push(r);
      this.live.add(r);
      r.ended.then(() => {
        this.live.delete(r);
        const i = this.warm.indexOf(r);
        if (i >= 0) {
          this.warm.splice(i, 1);
          this.log.debug("runner: a warm runner died while idle", { pid: r.child.pid });
        }
      });
    }
  }
}

/** The host paths a sandboxed runner must see for `spec` (a `file://` target is created first, to bind it). */
function sandboxPaths(spec: RunSpec, child: ChildSpec): { readOnly: string[]; readWrite: string[] } {
  const readWrite = Object.values(spec.preopens);
  for (const t of [child.stdin, child.stdout, child.stderr]) {
    if (t.kind === "file" && !existsSync(t.path))
      closeSync(openSync(t.path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND, 0o644));
    if ((t.kind === "file" || t.kind === "fifo") && existsSync(t.path)) readWrite.push(t.path);
  }
  return { readOnly: existsSync(spec.module) ? [spec.module] : [], readWrite };
}

/**
 * A started guest: its runner's pid, signals, /proc stats, and the exit once stdio is flushed. Once the
 * runner has exited, kill is a no-op and stats is NotFound, so a reused pid is never signalled or read.
 */
class RunnerHandle implements RunningProcess {
  readonly exited: Promise<ExitStatus>;
  private gone = false;
  private paused = false;

  constructor(
    readonly pid: number,
    runner: RunnerProcess,
    loggers: BinaryLogger[],
  ) {
    runner.child.once("exit", () => {
      this.gone = true;
    });
    // The runner wrote straight to FIFOs and files, so its exit closed every write end it had; a logging
    // binary has also read to EOF and exited (decision 16: containerd waits for that).
    this.exited = runner.ended.then(async (end) => {
      await Promise.all(loggers.map((l) => l.exited));
      return end.status;
    });
  }

  /**
   * Sends `signal` to the runner. A stopped process keeps every signal but SIGKILL pending, so a paused guest
   * is also continued: a Kill ends a paused task, as containerd expects of runc.
   */
  kill(signal: NodeJS.Signals | number): void {
    this.signal(signal);
    const stop = signal === "SIGSTOP" || signal === constants.signals.SIGSTOP;
    const kill = signal === "SIGKILL" || signal === constants.signals.SIGKILL;
    if (this.paused && !stop && !kill && signal !== 0) this.resume();
  }

  pause(): void {
    this.signal("SIGSTOP");
    this.paused = true;
  }

  resume(): void {
    this.signal("SIGCONT");
    this.paused = false;
  }

  stats(): Promise<ProcessStats> {
    if (this.gone) return Promise.reject(notFound(`process ${this.pid}: no stats, it has exited`));
    return procStats(this.pid);
  }

  /**
   * Nothing to close here: the guest reads its stdin FIFO directly, so it sees EOF when the last writer (the
   * client) closes its end, as any FIFO reader does; the shim holds no write end of its own.
   */
  closeStdin(): void {}

  private signal(signal: NodeJS.Signals | number): void {
    if (this.gone) return;
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw ShimError.from(err);
    }
  }
}
