/**
 * The standalone shim (`nodewasi shim serve`, and the daemon `nodewasi run` starts): the composition root
 * that wires the runner, the content store and the Task, Images and Tasks services to a gRPC server on a unix
 * socket (DESIGN decisions 1 and 3). The Task service answers under both containerd.task.v2.Task and
 * containerd.task.v3.Task.
 *
 * Ownership: it owns its root for its whole life (DESIGN decision 18, shim/root-claim.ts), taken before
 * anything else: a second daemon on the root refuses, naming this one. Owning the root, it removes what a
 * daemon that died there left: task folders under `<root>/tasks`, and the stdio FIFOs of runs whose command
 * died (`io/run-<pid>-*` beside the socket).
 *
 * Lifecycle: it runs until `close()` (SIGTERM/SIGINT in `shim serve`), a Shutdown RPC once no task is left,
 * or `idleTimeoutMs` of idleness (IdleWatch). Closing says so to later claimants of the root (they wait for
 * it), kills what still runs, answers the pending Waits, deletes every task (their bundles under
 * `<root>/tasks`), stops the runners, removes the socket and gives the root up.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Images, Task, TASK_NAMES, Tasks } from "../gen/index.js";
import type { Logger } from "../internal/index.js";
import { addService, createGrpcServer, listenUnix, shutdownServer } from "../rpc/index.js";
import {
  claimRoot,
  type EventPublisher,
  ImagesService,
  nullPublisher,
  type RootOwnership,
  releaseTaskMounts,
  removeLeftoverTasks,
  StoreImageResolver,
  shareMountPoint,
  TaskService,
  TasksService,
  tasksDir,
} from "../shim/index.js";
import { ChildRunner } from "../wasi/index.js";
import { IdleWatch } from "./idle-watch.js";
import { removeDeadRunDirs } from "./run-stdio.js";
import { ioDirFor } from "./shim-address.js";

export interface ShimDaemonOptions {
  /** The content store and task state root. */
  root: string;
  /** Absolute path of the unix socket. */
  address: string;
  /** Exit after this long with no live task and no RPC in flight; 0 never. */
  idleTimeoutMs: number;
  isolation: "auto" | "bwrap" | "none";
  /** Warm runner processes (ChildRunner's default when unset). */
  pool?: number;
  logger: Logger;
  /** Log every task event (at debug level). */
  logEvents?: boolean;
  /** Reported by the Task service's Connect. */
  version?: string;
}

export interface ShimDaemon {
  readonly address: string;
  /** Resolves with why the daemon stopped, once it has stopped and its socket is gone. */
  readonly closed: Promise<string>;
  /** Stops the daemon (idempotent); resolves as `closed` does. */
  close(reason: string): Promise<string>;
}

/**
 * Starts serving; rejects (ShimError) when the root has another owner (FailedPrecondition naming it) or the
 * socket cannot be bound (AlreadyExists when a server listens there).
 */
export async function startShimDaemon(o: ShimDaemonOptions): Promise<ShimDaemon> {
  const owner = await claimRoot(o.root, { address: o.address });
  try {
    // Overlays a dead daemon left mounted go first: its task folders cannot be removed under them.
    await releaseTaskMounts(tasksDir(o.root), o.logger);
    const left = await removeLeftoverTasks(o.root, (path, err) =>
      o.logger.warn(`removing ${path}, left by a daemon that died: ${(err as Error).message}`),
    );
    if (left.length) {
      o.logger.warn(`removed ${left.length} task folder(s) left by a daemon that died: ${left.join(", ")}`);
    }
    await removeDeadRunDirs(ioDirFor(o.address));
    return await serve(o, owner);
  } catch (err) {
    await owner.release();
    throw err;
  }
}

async function serve(o: ShimDaemonOptions, owner: RootOwnership): Promise<ShimDaemon> {
  // Tasks' overlay rootfs are mounted under <root>/tasks after warm sandboxes bound it: made to propagate.
  const unshare = o.isolation === "none" ? undefined : await shareMountPoint(tasksDir(o.root), o.logger);
  // Warm sandboxed runners see the folders every task of this shim uses (its rootfs views, its stdio FIFOs,
  // detached logs) and the module store read-only; a task outside them (a --mount) starts cold.
  const runner = new ChildRunner({
    isolation: o.isolation,
    logger: o.logger,
    ...(o.pool !== undefined ? { pool: o.pool } : {}),
    poolBinds: {
      rw: [tasksDir(o.root), ioDirFor(o.address), join(o.root, "logs")],
      ro: [join(o.root, "modules")],
    },
  });
  let closing: Promise<string> | undefined;
  let resolveClosed!: (reason: string) => void;
  const closed = new Promise<string>((r) => (resolveClosed = r));
  const close = (reason: string): Promise<string> => {
    closing ??= stop(reason).then(
      () => reason,
      (err: unknown) => {
        o.logger.error(`stopping the shim: ${(err as Error).message}`);
        return reason;
      },
    );
    return closing.then((r) => {
      resolveClosed(r);
      return r;
    });
  };

  const tasks = new TaskService({
    runner,
    images: new StoreImageResolver(o.root, o.logger),
    events: o.logEvents ? loggingPublisher(o.logger) : nullPublisher,
    stateDir: o.root,
    logger: o.logger,
    // Answer the Shutdown RPC first, then stop.
    onShutdown: () => setImmediate(() => void close("shutdown")),
    ...(o.version ? { version: o.version } : {}),
  });
  const watch = new IdleWatch({
    timeoutMs: o.idleTimeoutMs,
    busy: () =>
      [...tasks.containers.values()].some((c) => ["created", "running", "paused"].includes(c.init.state)),
    onIdle: () => {
      o.logger.debug(`idle for ${o.idleTimeoutMs / 1000} s, exiting`);
      void close("idle");
    },
  });
  const server = createGrpcServer();
  const logger = o.logger;
  addService(server, Task, watch.track(Task, tasks), { names: TASK_NAMES, logger });
  addService(server, Images, watch.track(Images, new ImagesService(o.root)), { logger });
  addService(server, Tasks, watch.track(Tasks, new TasksService(tasks)), { logger });
  try {
    await listenUnix(server, o.address);
  } catch (err) {
    watch.stop();
    server.forceShutdown();
    await runner.close();
    await unshare?.();
    throw err;
  }
  watch.start();
  o.logger.debug(`serving on ${o.address}`, { root: o.root, pid: process.pid });

  async function stop(reason: string): Promise<void> {
    o.logger.debug(`stopping (${reason})`);
    owner.markStopping();
    watch.stop();
    // Kill what runs, so the clients' pending Waits are answered before the server stops taking calls.
    await tasks.killAll();
    await shutdownServer(server, 2000);
    await runner.close();
    await tasks.deleteAll((id, err) =>
      o.logger.warn(`deleting task ${id} on exit: ${(err as Error).message}`),
    );
    await unshare?.().catch((err: Error) => o.logger.warn(err.message));
    // The FIFOs of runs whose command was killed (a live one's are its own: its pid names the folder).
    await removeDeadRunDirs(ioDirFor(o.address)).catch(() => {});
    await rm(o.address, { force: true });
    await owner.release();
  }

  return { address: o.address, closed, close };
}

/** Logs each task event at debug level: `event /tasks/exit {"containerId":"..."}`. */
function loggingPublisher(logger: Logger): EventPublisher {
  return {
    publish(topic, _schema, event) {
      const e = event as {
        containerId?: string;
        id?: string;
        execId?: string;
        exitStatus?: number;
        pid?: number;
      };
      // Exec events name the exec in execId (added, started) or in id (exit, delete: id = exec id).
      const execId = e.execId || (e.id && e.id !== e.containerId ? e.id : undefined);
      logger.debug(`event ${topic}`, {
        containerId: e.containerId,
        ...(execId ? { execId } : {}),
        ...(e.pid ? { pid: e.pid } : {}),
        ...(topic === "/tasks/exit" ? { exitStatus: e.exitStatus } : {}),
      });
    },
  };
}
