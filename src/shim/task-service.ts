/**
 * containerd's Task service (shim v2 API, DESIGN decision 1): plain async methods from request messages to
 * response messages, no transport in sight, so gRPC, ttrpc and tests all call the same object. Semantics are
 * those containerd depends on (reference containerd-shim-protocol.md section 4): Wait blocks until exit even
 * before Start, State reports STOPPED after exit, Kill takes any signal, Delete returns the exit, Shutdown ends
 * the shim only when no task is left. Events go to the injected publisher, in order per process.
 */
import { rm } from "node:fs/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { anyIs, anyUnpack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type CallContext,
  CreateOptionsSchema,
  type CreateTaskRequest,
  type DeleteRequest,
  type ExecProcessRequest,
  type KillRequest,
  type ServiceImpl,
  type Task,
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExecAddedSchema,
  TaskExecStartedSchema,
  TaskExitSchema,
  TaskOOMSchema,
  TaskPausedSchema,
  TaskResumedSchema,
  TaskStartSchema,
} from "../gen/index.js";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  type Logger,
  notFound,
  ShimError,
  unimplemented,
  validateIdentifier,
} from "../internal/index.js";
import { type Runner, stdioUris } from "../wasi/index.js";
import {
  type CgroupMode,
  ContainerCounters,
  cgroupMetrics,
  hostCgroupMode,
  measureProcesses,
} from "./cgroup-metrics.js";
import { type EventPublisher, type TaskEventSchema, taskEvent } from "./events.js";
import type { ImageResolver } from "./image-resolver.js";
import { taskDir } from "./task-dirs.js";
import { TaskProcess } from "./task-process.js";
import { setupExec, setupFromBundle, setupFromImage, type TaskSetup } from "./task-setup.js";

export interface TaskServiceOptions {
  runner: Runner;
  images: ImageResolver;
  events: EventPublisher;
  /**
   * The root this service owns (root-claim.ts), where tasks created from an image without a bundle get one
   * (`<stateDir>/tasks/<id>`) and the pause module is written. Without it (containerd's shim, whose daemons
   * share the root and whose tasks all have containerd's bundles) a Create must name a bundle.
   */
  stateDir?: string;
  /** Where the built-in pause module is written; default `stateDir`, else each bundle. */
  pauseDir?: string;
  /** Called by Shutdown when no task is left (the composition root then exits the process). */
  onShutdown?: () => void;
  /** Reported by Connect. */
  version?: string;
  /** containerd's namespace when a call's metadata names none (the shim's `-namespace`). */
  namespace?: string;
  /** How Stats encodes its metrics; default: by the host's cgroup mode (cgroup-metrics.ts). */
  cgroupMode?: CgroupMode;
  /** Where warnings go (an overlay that cannot be mounted, a task that could not remove itself); silent by default. */
  logger?: Logger;
}

/** A container: its setup, its init process and its execs. */
export interface Container {
  id: string;
  setup: TaskSetup;
  init: TaskProcess;
  execs: Map<string, TaskProcess>;
  createdAt: Date;
  /** The image reference of a task created from one; "" for a bundle. */
  image: string;
  /** Whether the shim made the bundle (and removes it on Delete). */
  ownBundle: boolean;
  /** CreateOptions.auto_remove: the task deletes itself once its init has exited (docker's --rm, AutoRemove). */
  autoRemove: boolean;
  /** The Delete of the init under way: a second Delete (or the auto-removal) shares it. */
  deleting?: Promise<DeleteAnswer>;
}

type Impl = ServiceImpl<typeof Task>;
type DeleteAnswer = Awaited<ReturnType<Impl["delete"]>>;

/** How long Delete of an exited init waits for the execs that went down with it. */
const EXEC_GRACE_MS = 5000;

export class TaskService implements Impl {
  readonly containers = new Map<string, Container>();
  /** Ids whose Create is under way: taken before the first await, so two Creates of one id never share a bundle. */
  readonly #creating = new Set<string>();
  readonly #o: TaskServiceOptions;
  /** What Stats has seen of each container's processes (cgroup-metrics.ts). */
  readonly #counters = new WeakMap<Container, ContainerCounters>();

  constructor(options: TaskServiceOptions) {
    this.#o = options;
  }

  /** The container `id`, or NotFound. */
  container(id: string): Container {
    const c = this.containers.get(id);
    if (!c) throw notFound(`task ${id} not found`);
    return c;
  }

  #process(id: string, execId: string): TaskProcess {
    const c = this.container(id);
    if (!execId) return c.init;
    const p = c.execs.get(execId);
    if (!p) throw notFound(`exec ${execId} of task ${id} not found`);
    return p;
  }

  /**
   * The container id and containerd namespace a `binary://` logger gets as CONTAINER_ID / CONTAINER_NAMESPACE
   * (containerd `pkg/process/io.go`): the namespace from the call's metadata (`containerd-namespace-ttrpc`
   * from containerd over ttrpc, `containerd-namespace` over gRPC), else the shim's own.
   */
  #ids(id: string, ctx: CallContext | undefined): { id: string; namespace: string } {
    const md = ctx?.metadata ?? {};
    const namespace = md["containerd-namespace-ttrpc"]?.[0] ?? md["containerd-namespace"]?.[0];
    return { id, namespace: namespace ?? this.#o.namespace ?? "" };
  }

  /** Publishes the event of `schema` (its topic by events.ts's table) with the fields of `init`. */
  #publish<D extends TaskEventSchema>(schema: D, init: MessageInitShape<D>): void {
    this.#o.events.publish(taskEvent(schema, init));
  }

  /** Publishes /tasks/oom, once per process: when the runner reports it, else with the exit status. */
  #onOom = (p: TaskProcess): void => {
    if (p.reportOom()) this.#publish(TaskOOMSchema, { containerId: p.info.containerId });
  };

  /**
   * Publishes /tasks/exit; runs once per process, after its state is stopped. A guest that hit its memory cap
   * gets /tasks/oom first (containerd's order: create, start, oom, exit), as runc's shim reports a cgroup OOM.
   */
  #onExit = (p: TaskProcess): void => {
    const status = p.exit!;
    // A container's execs end with its init, as under runc (its shim kills all when the init exits, and the pid
    // namespace goes with it); here each exec is a runner of its own and would run on, unreachable by Delete.
    if (!p.info.execId) {
      for (const e of this.containers.get(p.info.containerId)?.execs.values() ?? []) {
        if (e.isLive) e.kill(9, this.#onExit);
      }
    }
    if (status.oom) this.#onOom(p);
    const c = this.containers.get(p.info.containerId);
    // Before the exit event and before any Wait is answered (they await `deleting`): whoever hears of the exit
    // finds the task gone and its id free, as `docker run --rm` does in the daemon, so a `run --rm` whose command
    // was killed leaves nothing behind.
    if (!p.info.execId && c?.autoRemove) {
      this.#deleteInit(c, { id: c.id, execId: "" } as DeleteRequest).catch((err: unknown) =>
        this.#o.logger?.warn(
          `removing task ${c.id} after its exit (--rm): ${ShimError.from(err).rawMessage}`,
        ),
      );
    }
    this.#publish(TaskExitSchema, {
      containerId: p.info.containerId,
      id: p.info.execId || p.info.containerId,
      pid: p.pid,
      exitStatus: status.code,
      exitedAt: timestampFromDate(status.at),
    });
  };

  create: Impl["create"] = async (req: CreateTaskRequest, ctx) => {
    validateIdentifier(req.id, "Create: the task id");
    if (this.containers.has(req.id) || this.#creating.has(req.id)) {
      throw alreadyExists(`task ${req.id} already exists`);
    }
    if (req.checkpoint)
      throw unimplemented("Create: restoring from a checkpoint is not supported by nodewasi");
    const options =
      req.options && anyIs(req.options, CreateOptionsSchema)
        ? anyUnpack(req.options, CreateOptionsSchema)
        : undefined;
    const { stateDir } = this.#o;
    if (options?.image && !req.bundle && stateDir === undefined) {
      throw invalidArgument(
        `Create ${req.id}: no bundle; this shim serves containerd, which makes one for each task (\`nodewasi shim serve\` runs tasks from an image alone)`,
      );
    }
    // A bundle made here is this task's alone (the id is reserved below, and no other daemon owns the root),
    // so a Create that fails after making it removes it: an ENOSPC while copying the rootfs left it behind.
    const ownBundle = options?.image && !req.bundle ? taskDir(stateDir!, req.id) : undefined;
    this.#creating.add(req.id);
    let setup: TaskSetup;
    try {
      setup = options?.image
        ? await setupFromImage(
            req,
            options,
            this.#o.images,
            ownBundle ?? req.bundle,
            undefined,
            this.#o.logger,
          )
        : await setupFromBundle(req, this.#o.pauseDir ?? stateDir, this.#o.images);
    } catch (err) {
      if (ownBundle) await rm(ownBundle, { recursive: true, force: true }).catch(() => {});
      throw err;
    } finally {
      this.#creating.delete(req.id);
    }
    Object.assign(setup.spec, this.#ids(req.id, ctx));
    const init = new TaskProcess({
      containerId: req.id,
      execId: "",
      spec: setup.spec,
      stdio: stdioUris(req),
    });
    this.containers.set(req.id, {
      id: req.id,
      setup,
      init,
      execs: new Map(),
      createdAt: new Date(),
      image: options?.image ?? "",
      ownBundle: ownBundle !== undefined,
      autoRemove: options?.autoRemove === true,
    });
    this.#publish(TaskCreateSchema, {
      containerId: req.id,
      bundle: setup.bundle,
      rootfs: req.rootfs,
      io: init.info.stdio,
      pid: 0,
    });
    return { pid: 0 };
  };

  start: Impl["start"] = async (req) => {
    const p = this.#process(req.id, req.execId);
    const pid = await p.start(this.#o.runner, this.#onExit);
    if (req.execId) this.#publish(TaskExecStartedSchema, { containerId: req.id, execId: req.execId, pid });
    else this.#publish(TaskStartSchema, { containerId: req.id, pid });
    // After /tasks/start (or /tasks/exec-started): the guest may have hit its cap already.
    void p.oom?.then(() => this.#onOom(p));
    return { pid };
  };

  state: Impl["state"] = async (req) => {
    const c = this.container(req.id);
    const p = this.#process(req.id, req.execId);
    return {
      id: req.execId || req.id,
      execId: req.execId,
      bundle: c.setup.bundle,
      pid: p.pid,
      status: p.status,
      ...p.info.stdio,
      exitStatus: p.exit?.code ?? 0,
      ...(p.exit ? { exitedAt: timestampFromDate(p.exit.at) } : {}),
    };
  };

  wait: Impl["wait"] = async (req, ctx) => {
    const c = this.container(req.id);
    const p = this.#process(req.id, req.execId);
    const aborted = new Promise<never>((_, reject) => {
      if (ctx.signal.aborted) reject(ctx.signal.reason);
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
    });
    const status = await Promise.race([p.wait(), aborted]);
    // A task that removes itself answers once it is gone, so its id is free when the waiter hears the status.
    if (!req.execId && c.autoRemove) await Promise.race([c.deleting?.catch(() => {}), aborted]);
    return { exitStatus: status.code, exitedAt: timestampFromDate(status.at) };
  };

  kill: Impl["kill"] = async (req: KillRequest) => {
    const c = this.container(req.id);
    if (!Number.isInteger(req.signal) || req.signal < 1 || req.signal > 64) {
      throw invalidArgument(`Kill ${req.id}: signal ${req.signal} is not a signal number (1-64)`);
    }
    if (req.all && !req.execId) {
      for (const p of [...c.execs.values(), c.init]) {
        if (p.canSignal) p.kill(req.signal, this.#onExit);
      }
      return {};
    }
    this.#process(req.id, req.execId).kill(req.signal, this.#onExit);
    return {};
  };

  delete: Impl["delete"] = async (req: DeleteRequest) => {
    const c = this.container(req.id);
    return req.execId ? this.#delete(c, req) : this.#deleteInit(c, req);
  };

  /** Deletes the task: a Delete while one is under way (or the auto-removal) shares it. */
  #deleteInit(c: Container, req: DeleteRequest): Promise<DeleteAnswer> {
    c.deleting ??= this.#delete(c, req).finally(() => {
      // A Delete that failed (running execs) may be tried again.
      if (this.containers.get(c.id) === c) delete c.deleting;
    });
    return c.deleting;
  }

  async #delete(c: Container, req: DeleteRequest): Promise<DeleteAnswer> {
    const p = this.#process(req.id, req.execId);
    if (!req.execId) {
      const running = () => [...c.execs.values()].filter((e) => e.isLive);
      // Execs killed when the init exited may still be flushing their output: give them a moment to finish.
      if (running().length && c.init.state === "stopped") {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise((r) => {
          timer = setTimeout(r, EXEC_GRACE_MS);
        });
        await Promise.race([Promise.all(running().map((e) => e.wait())), grace]).finally(() =>
          clearTimeout(timer),
        );
      }
      const live = running();
      if (live.length) {
        throw failedPrecondition(
          `task ${req.id} still has running execs (${live.map((e) => e.info.execId).join(", ")}); ` +
            "kill them (Kill with all, ctr task kill --all) and delete again",
        );
      }
    }
    p.delete();
    const exit = p.exit;
    if (req.execId) c.execs.delete(req.execId);
    else {
      this.containers.delete(req.id);
      // The task's files stay bound in the slots of the warm sandboxes its processes ran in until those are
      // released (the exit is reported before): unmount and remove them only after.
      await Promise.all([c.init, ...c.execs.values()].map((e) => e.released()));
      await c.setup.cleanup?.();
      if (c.ownBundle) await rm(c.setup.bundle, { recursive: true, force: true });
      else if (c.image) await rm(c.setup.rootfs, { recursive: true, force: true });
    }
    const exitedAt = timestampFromDate(exit?.at ?? new Date());
    this.#publish(TaskDeleteSchema, {
      containerId: req.id,
      id: req.execId || req.id,
      pid: p.pid,
      exitStatus: exit?.code ?? 0,
      exitedAt,
    });
    return { pid: p.pid, exitStatus: exit?.code ?? 0, exitedAt };
  }

  pids: Impl["pids"] = async (req) => {
    const c = this.container(req.id);
    const processes = [c.init, ...c.execs.values()]
      .filter((p) => p.pid > 0 && p.isLive)
      .map((p) => ({ pid: p.pid }));
    return { processes };
  };

  /**
   * Pauses the whole container, as runc's shim freezes its cgroup: the init process and every running exec
   * (which State then reports PAUSED, as runc's shim does). Pausing only the init left execs using CPU.
   */
  pause: Impl["pause"] = async (req) => {
    const c = this.container(req.id);
    c.init.pause();
    for (const e of c.execs.values()) if (e.can("pause")) e.pause();
    this.#publish(TaskPausedSchema, { containerId: req.id });
    return {};
  };

  /** Resumes the init process and the execs that Pause paused. */
  resume: Impl["resume"] = async (req) => {
    const c = this.container(req.id);
    c.init.resume();
    for (const e of c.execs.values()) if (e.can("resume")) e.resume();
    this.#publish(TaskResumedSchema, { containerId: req.id });
    return {};
  };

  exec: Impl["exec"] = async (req: ExecProcessRequest, ctx) => {
    const c = this.container(req.id);
    validateIdentifier(req.execId, `Exec in ${req.id}: the exec id`);
    if (c.execs.has(req.execId)) throw alreadyExists(`exec ${req.execId} already exists in task ${req.id}`);
    if (!c.init.isLive) {
      throw failedPrecondition(`Exec in ${req.id}: the task is ${c.init.state}, not running`);
    }
    if (!req.spec) throw invalidArgument(`Exec ${req.execId} in ${req.id}: no process spec`);
    const stdio = stdioUris(req);
    const spec = {
      ...(await setupExec(c.setup, req.spec.value, stdio, `exec ${req.execId} in ${req.id}`)),
      ...this.#ids(req.id, ctx),
    };
    c.execs.set(req.execId, new TaskProcess({ containerId: req.id, execId: req.execId, spec, stdio }));
    this.#publish(TaskExecAddedSchema, { containerId: req.id, execId: req.execId });
    return {};
  };

  /**
   * Accepted and ignored for a process that exists: nodewasi gives guests no pty (terminal=true shares the
   * stdout FIFO, DESIGN decision 16) and WASI has no terminal size to change, so there is nothing to resize,
   * as runc's shim answers for a process without a console. `ctr run -t` calls it at start and on SIGWINCH and
   * prints an error on the user's terminal for any failure.
   */
  resizePty: Impl["resizePty"] = async (req) => {
    this.#process(req.id, req.execId);
    return {};
  };

  closeIO: Impl["closeIO"] = async (req) => {
    if (req.stdin) this.#process(req.id, req.execId).closeStdin();
    return {};
  };

  checkpoint: Impl["checkpoint"] = async () => {
    throw unimplemented("Checkpoint: a wasm guest's state cannot be checkpointed by nodewasi");
  };

  update: Impl["update"] = async (req) => {
    const c = this.container(req.id);
    if (req.resources?.value.length) {
      let limit: number | undefined;
      try {
        limit = (
          JSON.parse(Buffer.from(req.resources.value).toString("utf8")) as { memory?: { limit?: number } }
        ).memory?.limit;
      } catch (err) {
        throw invalidArgument(`Update ${req.id}: resources are not JSON: ${(err as Error).message}`);
      }
      // A running guest's memory maximum is fixed at instantiation: the new limit applies to what starts next.
      if (limit !== undefined && limit > 0) c.setup.spec.memoryLimit = limit;
    }
    return {};
  };

  stats: Impl["stats"] = async (req) => {
    const c = this.container(req.id);
    const live = [c.init, ...c.execs.values()].filter((p) => p.isLive);
    const measured = await measureProcesses(live);
    if (!measured.size) throw failedPrecondition(`task ${req.id} has no running process to measure`);
    const counters = this.#counters.get(c) ?? new ContainerCounters();
    this.#counters.set(c, counters);
    return { stats: cgroupMetrics(counters.account(measured), this.#o.cgroupMode ?? hostCgroupMode()) };
  };

  connect: Impl["connect"] = async (req) => {
    const c = this.containers.get(req.id);
    return { shimPid: process.pid, taskPid: c?.init.pid ?? 0, version: this.#o.version ?? "" };
  };

  shutdown: Impl["shutdown"] = async (req) => {
    if (this.containers.size > 0 && !req.now) return {};
    this.#o.onShutdown?.();
    return {};
  };

  /**
   * For a shim that is going away: SIGKILLs every process still alive and waits (at most `graceMs` each) for
   * it to exit, so clients' pending Waits are answered before the server stops taking calls.
   */
  async killAll(graceMs = 2000): Promise<void> {
    const ctx = { signal: new AbortController().signal, metadata: {} };
    const live = [...this.containers.values()].filter((c) => c.init.canSignal);
    await Promise.all(
      live.map(async (c) => {
        await this.kill({ id: c.id, execId: "", signal: 9, all: true } as KillRequest, ctx).catch(() => {});
        await Promise.race([c.init.wait(), new Promise((r) => setTimeout(r, graceMs).unref())]);
      }),
    );
  }

  /** Deletes every task (after killAll), reporting each failure to `onError`. */
  async deleteAll(onError: (id: string, err: unknown) => void): Promise<void> {
    const ctx = { signal: new AbortController().signal, metadata: {} };
    for (const c of [...this.containers.values()]) {
      await this.delete({ id: c.id, execId: "" } as DeleteRequest, ctx).catch((err: unknown) =>
        onError(c.id, err),
      );
    }
  }
}
