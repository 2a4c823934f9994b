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
 * paths. A warm sandbox, started before its spec is known, binds only an empty directory of its own, its slot
 * (warm-slots.ts): when a spec takes it, the shim bind-mounts that spec's preopens, module (read-only) and
 * stdio paths into the slot, where the sandbox sees them appear, and gives the runner the paths inside. So a
 * warm sandbox sees what a cold one would, and nothing of any other task, also when its rootfs was mounted
 * after the sandbox started (a task's overlay, a containerd snapshot) or its FIFOs live anywhere (ctr's, in
 * /run/containerd/fifo). After the task its slot is unmounted and removed (the exit is reported first, and the
 * Task service's Delete waits for `released`); a sandbox never takes a second spec. The binds are made and
 * undone by the shim's mount helper (internal/mount-syscalls.ts: about a millisecond each, without a process
 * per call; mount(8) where it cannot run), where a cold sandbox costs a Node boot. Only root can mount:
 * elsewhere every sandboxed runner starts cold, and so does a spec with a rotated log (warm-slots.ts `fitsSlot`).
 */
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import type { Stream } from "node:stream";
import {
  Code,
  defaultRuntimeDir,
  type Logger,
  notFound,
  ShimError,
  silentLogger,
} from "../internal/index.js";
import { type BinaryLogger, startBinaryLogger } from "./binary-logger.js";
import { pagesFor } from "./memory-cap.js";
import { checkPreopens } from "./preopen-check.js";
import { procStats } from "./proc-stats.js";
import type { ExitStatus, ProcessStats, Runner, RunningProcess, RunSpec, StdioTarget } from "./runner.js";
import { RunnerProcess, type SpawnOptions } from "./runner-process.js";
import type { ChildSpec, ChildStdio } from "./runner-protocol.js";
import { bwrapArgs, findBwrap, findBwrapAsync } from "./sandbox.js";
import { signalNumber, standsIn } from "./signals.js";
import { createFileTarget, fitsSlot, SLOT_IN_SANDBOX, SlotRoom } from "./warm-slots.js";

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
   * Under bwrap, the folder in which warm sandboxes get their slots (warm-slots.ts): a room of this runner's is
   * made there, and the rooms that killed processes left are removed. Default `<runtime dir>/slots`
   * (`/run/nodewasi/slots`). Warm sandboxes need root; elsewhere every sandboxed runner starts cold.
   */
  slots?: string;
  /** Where the no-sandbox warning and runner crashes are logged (default: silent). */
  logger?: Logger;
}

let warnedNoBwrap = false;
/** How long close() waits for killed runners to end. */
const CLOSE_WAIT_MS = 2000;
/** How long after a Start that took a warm runner the pool is topped up (see start()). */
const REFILL_DELAY_MS = 50;

/** An idle warm runner; under bwrap, with its slot and the release of that slot once the runner has ended. */
interface Warm {
  runner: RunnerProcess;
  slot?: { dir: string; released: Promise<void> };
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
  /** Under bwrap: the room of the warm sandboxes' slots once made (undefined before, and when it cannot be). */
  #room: SlotRoom | undefined;
  readonly #opening: Promise<void> | undefined;
  /** Slot releases not finished yet: close() waits for them before removing the room. */
  readonly #releasing = new Set<Promise<void>>();
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
    this.#poolSize = Math.max(0, opts.pool ?? 2);
    if (this.bwrap && this.#poolSize > 0) {
      this.#opening = SlotRoom.open(opts.slots ?? join(defaultRuntimeDir(), "slots"), this.#log).then(
        (room) => {
          this.#room = room;
          if (this.#closed) return;
          this.#fill();
        },
      );
    } else this.#fill();
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
      let warm = extra.length === 0 ? this.#takeWarm(child) : undefined;
      const tookWarm = warm !== undefined;
      let sent = child;
      if (warm?.slot) {
        try {
          sent = await this.#room!.fill(warm.slot.dir, child);
        } catch (err) {
          // Its own sandbox names what is missing (a module, a FIFO, a mount) as it always did.
          this.#log.debug("runner: cannot bind the spec into a warm sandbox, starting it cold", {
            error: (err as Error).message,
          });
          warm.runner.killGroup("SIGKILL");
          warm = undefined;
        }
      }
      const runner = warm?.runner ?? this.#spawnCold(spec, extra, child);
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
        kill?.throwIfAborted(); // while its slot was filled
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
        // The pool is topped up a little after this Start: spawning a runner blocks this process until the
        // child has exec'd (a fork of the whole daemon: 10-80 ms on a loaded machine), which delayed the answer
        // to the Start that took a warm one (written after the next turn of the event loop) and, for a short
        // guest, the report of its exit. A Start that finds the pool empty meanwhile fills it at once.
        if (tookWarm) setTimeout(() => this.#fill(), REFILL_DELAY_MS);
      }
      return new RunnerHandle(pid, runner, loggers, warm?.slot?.released);
    } catch (err) {
      for (const l of loggers) l.kill();
      throw ShimError.from(err, Code.Internal);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening;
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
    await Promise.all(this.#releasing);
    await this.#room
      ?.close()
      .catch((err: Error) => this.#log.warn(`runner: removing its slots: ${err.message}`));
  }

  /**
   * Host pids of the idle warm runners (for tests and `--debug` output): the pid a task started on it will
   * report. A sandboxed one is listed once it has booted (before, only bwrap's pid is known).
   */
  warmPids(): number[] {
    return this.#warm.flatMap((w) => (w.runner.pid === undefined ? [] : [w.runner.pid]));
  }

  /**
   * An idle warm runner for `child`, or undefined when the spec must start cold: none is idle, or under bwrap
   * the spec does not fit a slot.
   */
  #takeWarm(child: ChildSpec): Warm | undefined {
    if (this.#warm.length === 0) {
      this.#fill(); // idle ones died (killed from outside): start again for the next spec
      return undefined;
    }
    if (this.bwrap && !fitsSlot(child)) return undefined;
    const warm = this.#warm.shift()!;
    warm.runner.setRef(true);
    return warm;
  }

  #spawnCold(spec: RunSpec, extraStdio: (number | Stream)[], child: ChildSpec): RunnerProcess {
    const opts: SpawnOptions = { extraStdio };
    if (child.maxPages !== undefined) opts.maxPages = child.maxPages;
    if (this.bwrap) opts.sandbox = { bwrap: this.bwrap, args: bwrapArgs(sandboxPaths(spec, child)) };
    return new RunnerProcess(opts);
  }

  /**
   * Tops the pool up; a warm runner that dies while idle (killed from outside) is dropped and replaced. Under
   * bwrap only once the room is made (none is started when it cannot be), each in a sandbox of its own slot.
   */
  #fill(): void {
    if (this.bwrap && !this.#room) return;
    while (!this.#closed && this.#warm.length < this.#poolSize) {
      const room = this.#room;
      const dir = room?.newSlot();
      const r =
        this.bwrap && dir !== undefined
          ? new RunnerProcess({
              sandbox: {
                bwrap: this.bwrap,
                args: [...bwrapArgs({ readOnly: [], readWrite: [] }), "--bind", dir, SLOT_IN_SANDBOX],
              },
            })
          : new RunnerProcess();
      r.setRef(false);
      const w: Warm = { runner: r };
      if (room && dir !== undefined) {
        const released = r.ended
          .then(() => room.release(dir))
          .catch((err: Error) => this.#log.warn(`runner: releasing the slot ${dir}: ${err.message}`));
        this.#releasing.add(released);
        void released.then(() => this.#releasing.delete(released));
        w.slot = { dir, released };
      }
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
    if (t.kind === "file" && !existsSync(t.path)) createFileTarget(t.path);
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
  readonly released?: Promise<void>;
  readonly oom: Promise<void>;
  #gone = false;
  #paused = false;

  readonly pid: number;
  readonly #runner: RunnerProcess;

  /** `released`: the release of the runner's slot (never rejects), which starts once the runner has ended. */
  constructor(pid: number, runner: RunnerProcess, loggers: BinaryLogger[], released?: Promise<void>) {
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
    if (released) this.released = released;
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
