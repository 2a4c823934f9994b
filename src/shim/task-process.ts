/**
 * One process of a task: the init process of a container or an exec. It owns its state (state.ts), its
 * guest (a RunningProcess from the runner) and the promise every Wait shares, which settles on exit whether
 * Wait came before Start or after the exit (containerd calls Wait before Start).
 */
import { failedPrecondition, notFound, ShimError } from "../internal/index.js";
import type { ExitStatus, Runner, RunningProcess, RunSpec } from "../wasi/index.js";
import { checkTransition, type ProcessState } from "./state.js";

export interface ProcessInfo {
  containerId: string;
  /** "" for the init process. */
  execId: string;
  spec: RunSpec;
  /** The stdio URIs as given, reported back by State. */
  stdio: { stdin: string; stdout: string; stderr: string; terminal: boolean };
}

const SIGNALS: Record<number, NodeJS.Signals> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  9: "SIGKILL",
  15: "SIGTERM",
};

export class TaskProcess {
  readonly info: ProcessInfo;
  state: ProcessState = "created";
  pid = 0;
  exit: ExitStatus | undefined;
  /** Whether /tasks/oom went out for this process (once at most). */
  oomReported = false;
  #guest: RunningProcess | undefined;
  readonly #exited: Promise<ExitStatus>;
  #settle!: (s: ExitStatus) => void;

  constructor(info: ProcessInfo) {
    this.info = info;
    this.#exited = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  get name(): string {
    return this.info.execId
      ? `exec ${this.info.execId} of task ${this.info.containerId}`
      : `task ${this.info.containerId}`;
  }

  /** Starts the guest; `onExit` runs once it has exited (after the state is stopped). */
  async start(runner: Runner, onExit: (p: TaskProcess) => void): Promise<number> {
    checkTransition(this.state, "running", this.name);
    const guest = await runner.start(this.info.spec);
    this.#guest = guest;
    this.pid = guest.pid;
    this.state = "running";
    guest.exited.then(
      (status) => this.#stopped(status, onExit),
      (err: unknown) =>
        this.#stopped({ code: 255, at: new Date(), trap: ShimError.from(err).rawMessage }, onExit),
    );
    return this.pid;
  }

  #stopped(status: ExitStatus, onExit: (p: TaskProcess) => void): void {
    this.state = "stopped";
    this.exit = status;
    this.#settle(status);
    onExit(this);
  }

  /** Settles when the running guest hit its memory cap (RunningProcess.oom); undefined before start. */
  get oom(): Promise<void> | undefined {
    return this.#guest?.oom;
  }

  /** Settles on exit. */
  wait(): Promise<ExitStatus> {
    return this.#exited;
  }

  /**
   * Sends `signal` (a number, as containerd sends it). A created process that never started stops at once
   * with status 128 + signal, as runc's does when its init is killed before start. A stopped one answers
   * NotFound "process already finished", as runc's shim does.
   */
  kill(signal: number, onExit: (p: TaskProcess) => void): void {
    if (this.state === "stopped" || this.state === "deleted") {
      throw notFound(`${this.name}: process already finished`);
    }
    if (this.state === "created") {
      checkTransition(this.state, "stopped", this.name);
      this.#stopped({ code: 128 + signal, at: new Date(), signal: SIGNALS[signal] ?? "SIGKILL" }, onExit);
      return;
    }
    if (this.state === "paused" && signal !== 9) this.#guest?.resume();
    this.#guest?.kill(signal);
  }

  pause(): void {
    checkTransition(this.state, "paused", this.name);
    this.#guest?.pause();
    this.state = "paused";
  }

  resume(): void {
    if (this.state !== "paused") checkTransition(this.state, "running", this.name);
    this.#guest?.resume();
    this.state = "running";
  }

  closeStdin(): void {
    this.#guest?.closeStdin();
  }

  stats() {
    if (!this.#guest || this.state === "stopped") {
      throw failedPrecondition(`${this.name} is ${this.state}: no process to measure`);
    }
    return this.#guest.stats();
  }

  /** Marks the process deleted (after checking it may be). */
  delete(): void {
    checkTransition(this.state, "deleted", this.name);
    this.state = "deleted";
  }
}
