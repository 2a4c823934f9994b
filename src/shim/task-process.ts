/**
 * One process of a task: the init process of a container or an exec. It owns its state (state.ts), its
 * guest (a RunningProcess from the runner) and the promise every Wait shares, which settles on exit whether
 * Wait came before Start or after the exit (containerd calls Wait before Start).
 */
import { Code, failedPrecondition, notFound, ShimError } from "../internal/index.js";
import {
  type ExitStatus,
  killedBy,
  type Runner,
  type RunningProcess,
  type RunSpec,
  signalName,
} from "../wasi/index.js";
import { checkTransition, type ProcessState } from "./state.js";

export interface ProcessInfo {
  containerId: string;
  /** "" for the init process. */
  execId: string;
  spec: RunSpec;
  /** The stdio URIs as given, reported back by State. */
  stdio: { stdin: string; stdout: string; stderr: string; terminal: boolean };
}

export class TaskProcess {
  readonly info: ProcessInfo;
  state: ProcessState = "created";
  pid = 0;
  exit: ExitStatus | undefined;
  /** Whether /tasks/oom went out for this process (once at most). */
  oomReported = false;
  #guest: RunningProcess | undefined;
  /** While Start is in flight: aborted by a Kill, which the runner then carries out (Runner.start). */
  #starting: AbortController | undefined;
  /** The signal of that Kill: the status is 128 + it once the runner has ended. */
  #killedStarting = 0;
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

  /**
   * Starts the guest; `onExit` runs once it has exited (after the state is stopped). The process stays created
   * until the runner has started the guest; a Kill meanwhile ends the runner, and once it has ended the process
   * is stopped with 128 + signo and this rejects (Aborted).
   */
  async start(runner: Runner, onExit: (p: TaskProcess) => void): Promise<number> {
    checkTransition(this.state, "running", this.name);
    if (this.#starting) throw failedPrecondition(`${this.name} is already starting`);
    const starting = new AbortController();
    this.#starting = starting;
    let guest: RunningProcess;
    try {
      guest = await runner.start(this.info.spec, starting.signal);
    } catch (err) {
      if (starting.signal.aborted) this.#stopped(killedBy(this.#killedStarting), onExit);
      throw err;
    } finally {
      this.#starting = undefined;
    }
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
   * with status 128 + signal, as runc's does when its init is killed before start: it has no process. One
   * whose Start is in flight has one (a runner compiling the module, opening its stdio): that is ended, and
   * the process stops once it is gone (start()). A stopped one answers NotFound "process already finished",
   * as runc's shim does.
   */
  kill(signal: number, onExit: (p: TaskProcess) => void): void {
    if (this.state === "stopped" || this.state === "deleted") {
      throw notFound(`${this.name}: process already finished`);
    }
    if (this.#starting) {
      if (!this.#starting.signal.aborted) {
        this.#killedStarting = signal;
        const name = signalName(signal) ?? `signal ${signal}`;
        this.#starting.abort(
          new ShimError(Code.Aborted, `${this.name} was killed (${name}) before its guest started`),
        );
      }
      return;
    }
    if (this.state === "created") {
      checkTransition(this.state, "stopped", this.name);
      this.#stopped(killedBy(signal), onExit);
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

  /** Marks the process deleted (after checking it may be: not while its Start is in flight). */
  delete(): void {
    if (this.#starting) throw failedPrecondition(`${this.name} is starting; kill it first`);
    checkTransition(this.state, "deleted", this.name);
    this.state = "deleted";
  }
}
