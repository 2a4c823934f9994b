/**
 * A Runner that runs nothing: each started guest waits until the test ends it (`finish`) or a signal does
 * (128 + signo, as the child-process runner reports). For unit tests of the Task service, where a real
 * process adds nothing but time (STYLE "Seams").
 */
import { constants } from "node:os";
import { notFound } from "../../src/internal/index.js";
import type { ExitStatus, ProcessStats, Runner, RunningProcess, RunSpec } from "../../src/wasi/index.js";

export class FakeGuest implements RunningProcess {
  readonly pid: number;
  readonly spec: RunSpec;
  readonly exited: Promise<ExitStatus>;
  paused = false;
  stdinClosed = false;
  /**
   * Set by a test: the runner process has exited but its exit is not reported yet (the child-process runner
   * reports it once stdio is flushed), so stats fails NotFound as ChildRunner's does then.
   */
  gone = false;
  signals: (NodeJS.Signals | number)[] = [];
  /** Set by holdRelease: what the runner still holds for this guest after its exit (RunningProcess.released). */
  released?: Promise<void>;
  #end!: (s: ExitStatus) => void;
  #done = false;

  constructor(pid: number, spec: RunSpec) {
    this.pid = pid;
    this.spec = spec;
    this.exited = new Promise((resolve) => {
      this.#end = resolve;
    });
  }

  /** Makes `released` pending until the returned function is called, as a warm sandbox's slot release is. */
  holdRelease(): () => void {
    let release!: () => void;
    this.released = new Promise((resolve) => {
      release = resolve;
    });
    return release;
  }

  /** Ends the guest as if it returned `code`. */
  finish(code: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#end({ code, at: new Date() });
  }

  kill(signal: NodeJS.Signals | number): void {
    this.signals.push(signal);
    const signo = typeof signal === "number" ? signal : constants.signals[signal];
    if (this.#done) return;
    this.#done = true;
    this.#end({ code: 128 + signo, at: new Date() });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Figures derived from the pid, so a test can tell whose they are and check sums. */
  async stats(): Promise<ProcessStats> {
    if (this.gone) throw notFound(`process ${this.pid}: no stats, it has exited`);
    return {
      memoryBytes: 1024 * this.pid,
      peakMemoryBytes: 2048 * this.pid,
      anonBytes: 768 * this.pid,
      fileBytes: 256 * this.pid,
      shmemBytes: 0,
      swapBytes: 0,
      cpuNanos: 3000,
      userNanos: 2000,
      systemNanos: 1000,
      threads: 7,
      minorFaults: 100,
      majorFaults: 1,
    };
  }

  closeStdin(): void {
    this.stdinClosed = true;
  }
}

export class FakeRunner implements Runner {
  readonly guests: FakeGuest[] = [];
  /**
   * While set, start() waits for it, as a real runner waits for the module to compile or a FIFO to open: a
   * Start in flight. A Kill meanwhile (the `kill` signal) makes start() reject with its reason, as the
   * Runner contract says, once `ended` (what the runner had started for it has ended) resolves too.
   */
  hold: { released: Promise<void>; ended: Promise<void> } | undefined;
  /** Starts that are waiting on `hold`. */
  holding = 0;
  #pid = 1000;

  async start(spec: RunSpec, kill?: AbortSignal): Promise<RunningProcess> {
    kill?.throwIfAborted();
    if (this.hold) {
      const { released, ended } = this.hold;
      this.holding++;
      try {
        await new Promise<void>((resolve, reject) => {
          released.then(resolve);
          kill?.addEventListener("abort", () => ended.then(() => reject(kill.reason)), { once: true });
        });
      } finally {
        this.holding--;
      }
    }
    const guest = new FakeGuest(++this.#pid, spec);
    this.guests.push(guest);
    return guest;
  }

  async close(): Promise<void> {
    for (const g of this.guests) g.kill("SIGKILL");
  }

  /** The most recently started guest. */
  last(): FakeGuest {
    const g = this.guests.at(-1);
    if (!g) throw new Error("no guest started");
    return g;
  }
}
