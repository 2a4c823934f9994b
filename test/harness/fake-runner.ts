/**
 * A Runner that runs nothing: each started guest waits until the test ends it (`finish`) or a signal does
 * (128 + signo, as the child-process runner reports). For unit tests of the Task service, where a real
 * process adds nothing but time (STYLE "Seams").
 */
import { constants } from "node:os";
import type { ExitStatus, ProcessStats, Runner, RunningProcess, RunSpec } from "../../src/wasi/index.js";

export class FakeGuest implements RunningProcess {
  readonly pid: number;
  readonly spec: RunSpec;
  readonly exited: Promise<ExitStatus>;
  paused = false;
  stdinClosed = false;
  signals: (NodeJS.Signals | number)[] = [];
  #end!: (s: ExitStatus) => void;
  #done = false;

  constructor(pid: number, spec: RunSpec) {
    this.pid = pid;
    this.spec = spec;
    this.exited = new Promise((resolve) => {
      this.#end = resolve;
    });
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

  async stats(): Promise<ProcessStats> {
    return { memoryBytes: 1024 * this.pid, cpuNanos: 1000 };
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
