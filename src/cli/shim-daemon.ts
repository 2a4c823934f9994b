/**
 * The standalone shim (`nodewasi shim serve`, and the daemon `nodewasi run` starts): the daemon of
 * shim/daemon.ts with what is the CLI's own. It serves the Task service (under both task names, DESIGN
 * decision 1), Images and Tasks over gRPC on a unix socket (decision 3); it owns its root for its whole life
 * (decision 18: a second daemon on the root refuses, naming this one), so the task folders a dead daemon left
 * there go when it starts; it exits after `idleTimeoutMs` of idleness, as well as on `close()` (SIGTERM/SIGINT
 * in `shim serve`) and on a Shutdown RPC once no task is left.
 *
 * Its own: the runs' stdio FIFOs live in `io/` beside its socket, whose folders of runs whose command died it
 * removes when it starts and stops; task events go to its log at `--debug`.
 */
import { Images, TASK_NAMES, Task, Tasks } from "../gen/index.js";
import type { Logger } from "../internal/index.js";
import { addService, serveGrpc, shutdownServer } from "../rpc/index.js";
import {
  type Daemon,
  ImagesService,
  loggingPublisher,
  nullPublisher,
  startDaemon,
  TasksService,
} from "../shim/index.js";
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

/**
 * Starts serving; rejects (ShimError) when the root has another owner (FailedPrecondition naming it) or the
 * socket cannot be bound (AlreadyExists when a server listens there).
 */
export async function startShimDaemon(o: ShimDaemonOptions): Promise<Daemon> {
  const io = ioDirFor(o.address);
  const logger = o.logger;
  const daemon = await startDaemon({
    socket: o.address,
    logger,
    store: o.root,
    ownedRoot: o.root,
    runner: {
      isolation: o.isolation,
      ...(o.pool !== undefined ? { pool: o.pool } : {}),
    },
    events: o.logEvents ? loggingPublisher(logger) : nullPublisher,
    ...(o.version ? { version: o.version } : {}),
    idleTimeoutMs: o.idleTimeoutMs,
    serve: async ({ tasks, track }) => {
      const server = await serveGrpc(o.address, (s) => {
        addService(s, Task, track(Task, tasks), { names: TASK_NAMES, logger });
        addService(s, Images, track(Images, new ImagesService(o.root)), { logger });
        addService(s, Tasks, track(Tasks, new TasksService(tasks)), { logger });
      });
      return { close: (graceMs) => shutdownServer(server, graceMs) };
    },
    // The FIFOs of runs whose command was killed (a live one's are its own: its pid names the folder).
    tidy: () => removeDeadRunDirs(io),
  });
  logger.debug(`serving on ${o.address}`, { root: o.root, pid: process.pid });
  return daemon;
}
