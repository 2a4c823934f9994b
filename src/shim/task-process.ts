/**
 * One process of a task: the init process of a container or an exec. It owns its state, which moves only
 * through the transitions of state.ts (start, pause, resume, stop, delete) and is read through predicates
 * (`isLive`, `canSignal`, `can`), its guest (a RunningProcess from the runner) and the promise every Wait
 * shares, which settles on exit whether Wait came before Start or after the exit (containerd calls Wait before
 * Start).
 */
import type { Status } from "../gen/index.js";
import { Code, failedPrecondition, notFound, ShimError } from "../internal/index.js";
import {
  type ExitStatus,
  killedBy,
  type Runner,
  type RunningProcess,
  type RunSpec,
  type StdioUris,
  signalName,
} from "../wasi/index.js";
import { allows, type ProcessState, type Transition, toStatus, transition } from "./state.js";

export interface ProcessInfo {
  containerId: string;
  /** "" for the init process. */
  execId: string;
  spec: RunSpec;
  /** The stdio URIs as given, reported back by State. */
  stdio: StdioUris;
}

export class TaskProcess {
  readonly info: ProcessInfo;
  #state: ProcessState = "created";
  #pid = 0;
  #exit: ExitStatus | undefined;
  /** Whether /tasks/oom went out for this process (once at most). */
  #oomReported = false;
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

  get state(): ProcessState {
    return this.#state;
  }

  /** The state as containerd reports it (State, `nodewasi ps`). */
  get status(): Status {
    return toStatus(this.#state);
  }

  /** The guest's pid once started (it stays after the exit, as containerd reports it); 0 before. */
  get pid(): number {
    return this.#pid;
  }

  /** The exit status once stopped. */
  get exit(): ExitStatus | undefined {
    return this.#exit;
  }

  /** Whether its guest runs (or is paused): it has a pid to measure, and it ends with its container's init. */
  get isLive(): boolean {
    return this.#state === "running" || this.#state === "paused";
  }

  /** Whether a Kill is taken: the process has not stopped (a created one then stops at once: kill()). */
  get canSignal(): boolean {
    return allows(this.#state, "stop");
  }

  /** Whether `t` is allowed from the current state (state.ts). */
  can(t: Transition): boolean {
    return allows(this.#state, t);
  }

  #to(t: Transition): void {
    this.#state = transition(this.#state, t, this.name);
  }

  /**
   * Starts the guest; `onExit` runs once it has exited (after the state is stopped). The process stays created
   * until the runner has started the guest; a Kill meanwhile ends the runner, and once it has ended the process
   * is stopped with 128 + signo and this rejects (Aborted).
   */
  async start(runner: Runner, onExit: (p: TaskProcess) => void): Promise<number> {
    transition(this.#state, "start", this.name); // refused unless created; the move is made once the guest runs
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
    this.#pid = guest.pid;
    this.#to("start");
    guest.exited.then(
      (status) => this.#stopped(status, onExit),
      (err: unknown) =>
        this.#stopped({ code: 255, at: new Date(), trap: ShimError.from(err).rawMessage }, onExit),
    );
    return this.#pid;
  }

  #stopped(status: ExitStatus, onExit: (p: TaskProcess) => void): void {
    this.#to("stop");
    this.#exit = status;
    this.#settle(status);
    onExit(this);
  }

  /** Settles when the running guest hit its memory cap (RunningProcess.oom); undefined before start. */
  get oom(): Promise<void> | undefined {
    return this.#guest?.oom;
  }

  /** True the first time only: /tasks/oom goes out once per process, from the runner's report or the exit's. */
  reportOom(): boolean {
    if (this.#oomReported) return false;
    this.#oomReported = true;
    return true;
  }

  /** Settles on exit. */
  wait(): Promise<ExitStatus> {
    return this.#exited;
  }

  /**
   * Settles once what the runner held for this process outside it is undone (RunningProcess.released: a warm
   * sandbox's binds of the task's files), which may be after the exit was reported; at once when it never ran.
   */
  async released(): Promise<void> {
    await this.#guest?.released;
  }

  /**
   * Sends `signal` (a number, as containerd sends it). A created process that never started stops at once
   * with status 128 + signal, as runc's does when its init is killed before start: it has no process. One
   * whose Start is in flight has one (a runner compiling the module, opening its stdio): that is ended, and
   * the process stops once it is gone (start()). A stopped one answers NotFound "process already finished",
   * as runc's shim does.
   */
  kill(signal: number, onExit: (p: TaskProcess) => void): void {
    if (!this.canSignal) throw notFound(`${this.name}: process already finished`);
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
    if (this.#state === "created") {
      this.#stopped(killedBy(signal), onExit);
      return;
    }
    if (this.#state === "paused" && signal !== 9) this.#guest?.resume();
    this.#guest?.kill(signal);
  }

  pause(): void {
    const next = transition(this.#state, "pause", this.name);
    this.#guest?.pause();
    this.#state = next;
  }

  resume(): void {
    const next = transition(this.#state, "resume", this.name);
    this.#guest?.resume();
    this.#state = next;
  }

  closeStdin(): void {
    this.#guest?.closeStdin();
  }

  stats() {
    if (!this.#guest || !this.isLive) {
      throw failedPrecondition(`${this.name} is ${this.#state}: no process to measure`);
    }
    return this.#guest.stats();
  }

  /** Marks the process deleted (after checking it may be: not while its Start is in flight). */
  delete(): void {
    if (this.#starting) throw failedPrecondition(`${this.name} is starting; kill it first`);
    this.#to("delete");
  }
}
