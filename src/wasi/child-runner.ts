/**
 * The Runner of DESIGN decision 5: every guest in its own runner process (runner-main.ts), so a task has a
 * real pid, dies by any signal even when blocked in a host call, pauses by SIGSTOP and has /proc stats.
 * A small pool of warm runners, which have booted Node and loaded node:wasi and wait for a spec on IPC, hides
 * Node's ~0.1 s boot (reference node-wasi.md §1.9).
 *
 * The pool serves specs whose stdio are paths (FIFO, file, null); caller fds and `binary://` loggers are passed
 * in the spawn's stdio array, so those runners start cold. Without bwrap any such spec takes a warm runner.
 *
 * Under bwrap, a cold sandbox is built per spec: its mounts are exactly the spec's preopens, module and stdio
 * paths, which a pre-started runner cannot know. So warm sandboxed runners are started with a few fixed
 * directories instead (`poolBinds`: the shim's task rootfs views and stdio dir read-write, its module store
 * read-only), bound at their own host paths, and take only a spec whose module, preopens and stdio all resolve
 * (realpath) to paths under them; the runner is given those real paths. Any other spec starts cold as before,
 * and so does one whose rootfs is a mount made below a pool directory after the warm sandboxes bound it (a
 * task's overlay, src/shim/task-rootfs.ts), unless that directory propagates mounts into them (sandbox.ts
 * `hiddenFromWarm`; the daemon makes `<root>/tasks` a shared mount point).
 *
 * The trade-off: a warm sandbox shows the whole pool directories, not just this task's part of them. The host
 * outside them (its /etc, home directories, ...) stays unreachable, which is what DESIGN decision 8 promises.
 * A guest could reach a sibling task's rootfs or the module store only through a directory symlink in its own
 * preopen pointing there, i.e. an absolute or `..`-escaping link, and the image unpacker (src/oci/unpack*.ts)
 * refuses exactly those, while a guest cannot create one (node:wasi refuses absolute targets only; a relative
 * `..` target is refused by guest-symlinks.ts, found by the reliability suite). A mount the
 * user names (`--mount`, an OCI bind mount) normally lies outside the pool directories, so such a task starts
 * cold with only its own mounts. Read-only pool directories stay read-only through any link.
 */
import { closeSync, existsSync, constants as fsc, lstatSync, openSync, realpathSync } from "node:fs";
import { constants } from "node:os";
import { dirname } from "node:path";
import type { Stream } from "node:stream";
import { Code, type Logger, notFound, ShimError, silentLogger } from "../internal/index.js";
import { type BinaryLogger, startBinaryLogger } from "./binary-logger.js";
import { pagesFor } from "./memory-cap.js";
import { checkPreopens } from "./preopen-check.js";
import { procStats } from "./proc-stats.js";
import type { ExitStatus, ProcessStats, Runner, RunningProcess, RunSpec, StdioTarget } from "./runner.js";
import { RunnerProcess, type SpawnOptions } from "./runner-process.js";
import type { ChildSpec, ChildStdio } from "./runner-protocol.js";
import {
  boundAs,
  bwrapArgs,
  findBwrap,
  findBwrapAsync,
  hiddenFromWarm,
  type PoolBinds,
  resolvePoolBinds,
} from "./sandbox.js";
import { signalNumber, standsIn } from "./signals.js";

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
  /**
   * Under bwrap, the directories warm runners are sandboxed with, bound at their own (real) host paths, `ro`
   * ones read-only; a directory that does not exist yet is left out until it does (warm runners started
   * without it are then replaced). A spec is served warm only when its module lies under one of them and each
   * preopen dir and stdio path (FIFO, file) under a read-write one, after realpath (a symlink leading out of them
   * disqualifies it); else it starts cold with its own binds. Undefined (default): no warm pool under bwrap.
   * Ignored without bwrap, where the pool serves every spec. See the trade-off in this file's header.
   */
  poolBinds?: { rw: string[]; ro: string[] } | undefined;
  /** Where the no-sandbox warning and runner crashes are logged (default: silent). */
  logger?: Logger;
}

let warnedNoBwrap = false;
/** How long close() waits for killed runners to end. */
const CLOSE_WAIT_MS = 2000;

/**
 * An idle warm runner. Under bwrap every one was started with the current `ChildRunner.binds`: refreshBinds
 * replaces them all when those change.
 */
interface Warm {
  runner: RunnerProcess;
}

/**
 * Runs each guest in a runner process. `start()` resolves once the module is compiled and instantiated and
 * its stdio are open (FIFO opens block until the other end is open, as for runc), and rejects with a ShimError
 * naming the module, path or preopen when it cannot. `close()` SIGKILLs warm and running runners alike.
 */
export class ChildRunner implements Runner {
  /** The bwrap binary runners start under, or undefined when they run unsandboxed. */
  readonly bwrap: string | undefined;
  readonly #poolSize: number;
  readonly #log: Logger;
  readonly #warm: Warm[] = [];
  /** poolBinds as given, when warm runners are sandboxed; and as resolved last (see refreshBinds). */
  readonly #poolDirs: { rw: string[]; ro: string[] } | undefined;
  #binds: PoolBinds | undefined;
  readonly #live = new Set<RunnerProcess>();
  #closed = false;

  constructor(opts: ChildRunnerOptions = {}) {
    this.#log = opts.logger ?? silentLogger;
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
      this.#log.warn(
        "WARNING: bwrap (bubblewrap) is not usable here, guests run WITHOUT a sandbox: node:wasi can be escaped through a directory symlink in a rootfs or mount; install bubblewrap",
      );
    }
    this.#poolDirs =
      this.bwrap && opts.poolBinds ? { rw: [...opts.poolBinds.rw], ro: [...opts.poolBinds.ro] } : undefined;
    if (this.#poolDirs) this.#binds = resolvePoolBinds(this.#poolDirs);
    this.#poolSize = this.bwrap && !this.#poolDirs ? 0 : Math.max(0, opts.pool ?? 2);
    this.#fill();
  }

  /**
   * Probes for bwrap in the background: a ChildRunner made once this resolves does not block its process for
   * the probe (a child process, a few ms to tens of ms on a busy machine). Start it early, await it later.
   */
  static probeIsolation(): Promise<void> {
    return findBwrapAsync().then(() => {});
  }

  async start(spec: RunSpec, kill?: AbortSignal): Promise<RunningProcess> {
    if (this.#closed)
      throw new ShimError(Code.FailedPrecondition, "runner: closed; create a new ChildRunner");
    kill?.throwIfAborted();
    checkPreopens(spec.preopens);
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
        // Exactly the spec's environment: OCI's process.env is the whole of it (runc adds nothing), and a
        // guest that counts its variables (wasi-testsuite environ_sizes_get) must see only those. `cwd` is
        // not passed: WASI has no working directory and wasi-libc starts at "/" whatever PWD says.
        env: spec.env,
        preopens: spec.preopens,
        stdin: stdio(spec.stdin, "stdin"),
        stdout: stdio(spec.stdout, "stdout"),
        stderr: stdio(spec.stderr, "stderr"),
      };
      // Same target object twice (terminal): the same passed fd, so the runner opens it once.
      if (spec.stderr === spec.stdout) child.stderr = child.stdout;
      if (spec.memoryLimit !== undefined) child.maxPages = pagesFor(spec.memoryLimit);
      if (spec.entry !== undefined) child.entry = spec.entry;
      if (spec.moduleDigest !== undefined) child.moduleDigest = spec.moduleDigest;
      kill?.throwIfAborted(); // while a logging binary started
      const warm = extra.length === 0 ? this.#takeWarm(child) : undefined;
      const runner = warm?.runner ?? this.#spawnCold(spec, extra, child);
      const sent = warm?.spec ?? child;
      this.#live.add(runner);
      runner.ended.then((end) => {
        this.#live.delete(runner);
        if (!end.reported && end.status.code <= 128) {
          this.#log.warn("runner: the runner process ended without reporting a status", {
            module: spec.module,
            code: end.status.code,
            stderr: end.stderr,
          });
        }
      });
      // A Kill before the guest started: SIGKILL, whatever the signal (none of the guest's code has run), and
      // the rejection only once the runner (and under bwrap, bwrap) has ended.
      const onKill = () => runner.killGroup("SIGKILL");
      kill?.addEventListener("abort", onKill, { once: true });
      let pid: number;
      try {
        pid = await runner.ready;
        await runner.run(sent);
        kill?.throwIfAborted(); // aborted just as the guest was about to run
      } catch (err) {
        runner.killGroup("SIGKILL");
        if (kill?.aborted) {
          await runner.ended;
          throw kill.reason;
        }
        throw err;
      } finally {
        kill?.removeEventListener("abort", onKill);
        for (const l of loggers) l.release();
      }
      return new RunnerHandle(pid, runner, loggers);
    } catch (err) {
      for (const l of loggers) l.kill();
      throw ShimError.from(err, Code.Internal);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...new Set([...this.#warm.map((w) => w.runner), ...this.#live])];
    this.#warm.length = 0;
    for (const r of all) {
      r.setRef(true); // an idle warm runner is unref'd; its end must keep the loop alive while we await it
      // The whole group: under bwrap, a child that has not armed --die-with-parent yet too (sandbox.ts). Our
      // ends of its pipes stay open: Node emits "close" only once it reads EOF on the IPC channel, never after
      // a disconnect() of our own, so closing them made every close() wait out the bound below.
      r.killGroup("SIGKILL");
    }
    // Bounded all the same, so that nothing unforeseen can hang the shim's shutdown; what has not ended by
    // then is killed again by pid and reported.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), CLOSE_WAIT_MS);
    });
    const late = await Promise.race([
      Promise.all(all.map((r) => r.ended)).then(() => "done" as const),
      bound,
    ]);
    clearTimeout(timer);
    if (late === "late") {
      for (const r of all) {
        if (r.pid !== undefined) {
          try {
            process.kill(r.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
      this.#log.warn(`runner: ${all.length} runner(s) did not end within ${CLOSE_WAIT_MS} ms of SIGKILL`);
    }
  }

  /**
   * Host pids of the idle warm runners (for tests and `--debug` output): the pid a task started on it will
   * report. A sandboxed one is listed once it has booted (before, only bwrap's pid is known).
   */
  warmPids(): number[] {
    return this.#warm.flatMap((w) => (w.runner.pid === undefined ? [] : [w.runner.pid]));
  }

  /**
   * An idle warm runner for `child` and the spec to send it (under bwrap: with real paths, which are what the
   * sandbox shows), or undefined when the spec must start cold.
   */
  #takeWarm(child: ChildSpec): { runner: RunnerProcess; spec: ChildSpec } | undefined {
    if (this.#poolDirs) this.#refreshBinds();
    if (this.#warm.length === 0) {
      this.#fill(); // idle ones died (killed from outside): start again for the next spec
      return undefined;
    }
    let spec = child;
    if (this.#binds) {
      const real = warmSpec(child, this.#binds);
      if (!real) return undefined;
      spec = real;
    }
    const { runner } = this.#warm.shift()!;
    runner.setRef(true);
    this.#fill();
    return { runner, spec };
  }

  /**
   * Re-resolves poolBinds (a few realpath and stat calls per start). When a directory appeared, vanished or
   * was replaced since the warm runners were started, their view is stale: they are killed and replaced, and
   * this spec starts cold.
   */
  #refreshBinds(): void {
    const now = resolvePoolBinds(this.#poolDirs!);
    if (now.key === this.#binds?.key) return;
    this.#binds = now;
    for (const w of this.#warm.splice(0)) {
      this.#log.debug("runner: pool directories changed, replacing a warm runner", { pid: w.runner.pid });
      w.runner.killGroup("SIGKILL");
    }
    this.#fill();
  }

  #spawnCold(spec: RunSpec, extraStdio: (number | Stream)[], child: ChildSpec): RunnerProcess {
    const opts: SpawnOptions = { extraStdio };
    if (child.maxPages !== undefined) opts.maxPages = child.maxPages;
    if (this.bwrap) opts.sandbox = { bwrap: this.bwrap, args: bwrapArgs(sandboxPaths(spec, child)) };
    return new RunnerProcess(opts);
  }

  /** Tops the pool up; a warm runner that dies while idle (killed from outside) is dropped and replaced. */
  #fill(): void {
    while (!this.#closed && this.#warm.length < this.#poolSize) {
      const binds = this.#binds;
      const r = binds
        ? new RunnerProcess({
            sandbox: { bwrap: this.bwrap!, args: bwrapArgs({ readOnly: binds.ro, readWrite: binds.rw }) },
          })
        : new RunnerProcess();
      r.setRef(false);
      const w: Warm = { runner: r };
      this.#warm.push(w);
      this.#live.add(r);
      r.ended.then((end) => {
        this.#live.delete(r);
        const i = this.#warm.indexOf(w);
        if (i >= 0) {
          this.#warm.splice(i, 1);
          this.#log.debug("runner: a warm runner died while idle", { pid: r.pid, stderr: end.stderr });
        }
      });
    }
  }
}

/**
 * The host paths a sandboxed runner must see for `spec` (a `file://` target is created first, to bind it; a
 * rotated one needs its folder, where its older files are renamed and its next one made).
 */
function sandboxPaths(spec: RunSpec, child: ChildSpec): { readOnly: string[]; readWrite: string[] } {
  const readWrite = Object.values(spec.preopens);
  for (const t of [child.stdin, child.stdout, child.stderr]) {
    if (t.kind === "file" && t.rotate) {
      // Not the file itself: a file bound on its own is a mount point, which cannot be renamed.
      if (existsSync(dirname(t.path))) readWrite.push(dirname(t.path));
      continue;
    }
    if (t.kind === "file" && !existsSync(t.path))
      closeSync(openSync(t.path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND, 0o644));
    if ((t.kind === "file" || t.kind === "fifo") && existsSync(t.path)) readWrite.push(t.path);
  }
  return { readOnly: existsSync(spec.module) ? [spec.module] : [], readWrite };
}

/**
 * `child` as a warm sandbox bound with `binds` can run it: the module's real path under any bind, each
 * preopen's and stdio path's under a read-write one (deepest bind wins, as they are stacked); undefined when
 * one is not, or does not resolve. A missing `file` target is created first, as the cold path does, with
 * O_EXCL so that no symlink is followed in creating it.
 */
function warmSpec(child: ChildSpec, binds: PoolBinds): ChildSpec | undefined {
  const real = (path: string, rwOnly: boolean): string | undefined => {
    try {
      const r = realpathSync(path);
      const as = boundAs(binds, r);
      return as === "rw" || (as === "ro" && !rwOnly) ? r : undefined;
    } catch {
      return undefined;
    }
  };
  const module = real(child.module, false);
  if (module === undefined) return undefined;
  const preopens: Record<string, string> = {};
  for (const [guest, host] of Object.entries(child.preopens)) {
    const r = real(host, true);
    if (r === undefined || hiddenFromWarm(binds, r)) return undefined;
    preopens[guest] = r;
  }
  const stdio = (t: ChildStdio): ChildStdio | undefined => {
    if (t.kind !== "file" && t.kind !== "fifo") return t;
    if (t.kind === "file" && !lexists(t.path)) {
      if (real(dirname(t.path), true) === undefined) return undefined;
      try {
        closeSync(openSync(t.path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_APPEND, 0o644));
      } catch {
        // Created meanwhile (by whom?): judged below like any existing path.
      }
    }
    const r = real(t.path, true);
    return r === undefined ? undefined : { ...t, path: r };
  };
  const stdin = stdio(child.stdin);
  const stdout = stdio(child.stdout);
  const stderr = child.stderr === child.stdout ? stdout : stdio(child.stderr);
  if (!stdin || !stdout || !stderr) return undefined;
  return { ...child, module, preopens, stdin, stdout, stderr };
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A started guest: its runner's pid, signals, /proc stats, and the exit once stdio is flushed. Once the
 * runner has exited, kill is a no-op and stats is NotFound, so a reused pid is never signalled or read.
 */
class RunnerHandle implements RunningProcess {
  readonly exited: Promise<ExitStatus>;
  readonly oom: Promise<void>;
  #gone = false;
  #paused = false;

  readonly pid: number;
  readonly #runner: RunnerProcess;

  constructor(pid: number, runner: RunnerProcess, loggers: BinaryLogger[]) {
    this.pid = pid;
    this.#runner = runner;
    runner.child.once("exit", () => {
      this.#gone = true;
    });
    this.oom = runner.oom;
    // The runner wrote straight to FIFOs and files, so its exit closed every write end it had; a logging
    // binary has also read to EOF and exited (decision 16: containerd waits for that).
    this.exited = runner.ended.then(async (end) => {
      await Promise.all(loggers.map((l) => l.exited));
      return end.status;
    });
  }

  /**
   * Sends `signal` to the runner (or SIGKILL for one it cannot take, signals.ts). A stopped process keeps every
   * signal but SIGKILL pending, so a paused guest is also continued: a Kill ends a paused task, as containerd
   * expects of runc.
   */
  kill(signal: NodeJS.Signals | number): void {
    const signo = signalNumber(signal);
    if (standsIn(signo)) {
      if (!this.#gone) this.#runner.killAs(signo);
      return;
    }
    this.#signal(signal);
    const stop = signal === "SIGSTOP" || signal === constants.signals.SIGSTOP;
    const kill = signal === "SIGKILL" || signal === constants.signals.SIGKILL;
    if (this.#paused && !stop && !kill && signal !== 0) this.resume();
  }

  pause(): void {
    this.#signal("SIGSTOP");
    this.#paused = true;
  }

  resume(): void {
    this.#signal("SIGCONT");
    this.#paused = false;
  }

  stats(): Promise<ProcessStats> {
    if (this.#gone) return Promise.reject(notFound(`process ${this.pid}: no stats, it has exited`));
    return procStats(this.pid);
  }

  /**
   * Nothing to close here: the guest reads its stdin FIFO directly, so it sees EOF when the last writer (the
   * client) closes its end, as any FIFO reader does; the shim holds no write end of its own.
   */
  closeStdin(): void {}

  #signal(signal: NodeJS.Signals | number): void {
    if (this.#gone) return;
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw ShimError.from(err);
    }
  }
}
