/**
 * The daemon `start` leaves behind (`... -socket PATH serve`, run in the bundle): the daemon of shim/daemon.ts
 * serving the Task service over ttrpc (or gRPC: bootstrap.ts) under both task names on a 0600 socket
 * (reference containerd-shim-protocol.md §1.4 "Daemonizing", §8), forwarding the tasks' events to
 * `$TTRPC_ADDRESS`. What is containerd's own:
 *
 * - Its readiness goes to `start` (internal/daemon-readiness.ts) once the socket listens and its bootstrap reply
 *   is recorded beside it.
 * - Logs go to a bundle's `log` FIFO, which containerd holds open O_RDWR (so opening it O_WRONLY|O_NONBLOCK
 *   never blocks) and copies to its own log while it holds that task; it is written through a libuv pipe
 *   handle, so a slow reader never fails a write with EAGAIN, and reopened after a containerd restart
 *   (fifoLogger). A shared daemon outlives the task it was started for, so it writes to the FIFO of the newest
 *   task it holds. Each line starts with `time="<ISO 8601>"`, as containerd's own lines do.
 * - It owns no root (unlike `nodewasi shim serve`, DESIGN decision 18): one daemon per namespace (or pod) shares
 *   `$NODEWASI_ROOT` with the others, its tasks live in containerd's bundles, and a Create without a bundle
 *   (only a direct client sends one) is refused rather than given a folder there.
 * - It listens on a name of its own and is found through a link to it (daemon-socket.ts). It stops on
 *   SIGTERM/SIGINT, and after `NODEWASI_SHIM_IDLE_TIMEOUT` (default 30 s) holding no task, if no `start` found
 *   it meanwhile; containerd's Shutdown after a task's Delete does not stop it (runc's shim answers it
 *   likewise while it serves others). With `NODEWASI_SHIM_IDLE_TIMEOUT=0` it stops at the Shutdown that leaves
 *   it no task, as a shim per pod does. Stopping is the daemon's; then it waits up to 5 s for the queued events
 *   (as Go's shim does).
 */
import { constants, openSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { type ServiceImpl, Task } from "../gen/index.js";
import {
  createLogger,
  type DaemonReadiness,
  defaultRoot,
  type Logger,
  parseDuration,
} from "../internal/index.js";
import { type Daemon, namespaceStoreRoot, nullPublisher, startDaemon, stopOnSignals } from "../shim/index.js";
import { bootstrapMode } from "./bootstrap.js";
import { boundName, DaemonSocket } from "./daemon-socket.js";
import type { ShimFlags } from "./shim-flags.js";
import { withStdinHolder } from "./stdin-holder.js";
import { serveTasks } from "./task-server.js";
import { TtrpcEventPublisher } from "./ttrpc-event-publisher.js";

export interface ServeOptions {
  bundle: string;
  version: string;
  /** Told once the socket listens, or why it could not (`start`'s readiness pipe). */
  readiness?: DaemonReadiness;
  env?: NodeJS.ProcessEnv;
}

/** How long a shared daemon stays up holding no task, unless `NODEWASI_SHIM_IDLE_TIMEOUT` says otherwise. */
export const DEFAULT_IDLE_TIMEOUT = "30s";

export const IDLE_TIMEOUT_ENV = "NODEWASI_SHIM_IDLE_TIMEOUT";

/** A logger on bundles' `log` FIFOs (fifoLogger). */
export interface FifoLogger {
  logger: Logger;
  /** Prefers `bundle`'s FIFO from now on (a task's, created). */
  follow(bundle: string): void;
  close(): void;
}

/**
 * Opens the `log` FIFO of the newest followed bundle (else `bundle`'s) that has a reader as a logger; lines are
 * dropped while none does. containerd reads a task's FIFO until it lets the task go, and when it restarts, a
 * FIFO loses its reader and the write end breaks: the next line reopens the newest one read, once the new
 * containerd holds it again (it reopens every shim's log on restore). Bundles that are gone are forgotten.
 */
export function fifoLogger(bundle: string, debug: boolean): FifoLogger {
  let followed: string[] = [];
  let socket: Socket | undefined;
  let closed = false;
  const reopen = () => {
    socket = undefined;
    const gone = new Set<string>();
    for (const b of [...followed, bundle]) {
      try {
        const fd = openSync(join(b, "log"), constants.O_WRONLY | constants.O_NONBLOCK);
        const s = new Socket({ fd, readable: false, writable: true });
        s.on("error", () => s.destroy());
        s.on("close", () => {
          if (socket === s) socket = undefined;
        });
        s.unref();
        socket = s;
        break;
      } catch (err) {
        // ENOENT (run by hand, or the bundle is gone) or ENXIO (no reader now): the next one.
        if ((err as NodeJS.ErrnoException).code === "ENOENT") gone.add(b);
      }
    }
    if (gone.size) followed = followed.filter((b) => !gone.has(b));
  };
  reopen();
  const logger = createLogger({
    level: debug ? "debug" : "info",
    name: `nodewasi-shim[${process.pid}]`,
    write: (line) => {
      if (closed) return;
      if (!socket?.writable) reopen();
      // containerd copies these lines into its own log as they are; the time lets them be read beside its
      // own (bench/ctr.ts times the daemon's boot from the "serving" line).
      if (socket?.writable) socket.write(`time="${new Date().toISOString()}" ${line}`);
    },
  });
  return {
    logger,
    follow: (b) => {
      followed = [b, ...followed.filter((x) => x !== b)];
      socket?.end();
      socket = undefined;
    },
    close: () => {
      closed = true;
      socket?.end();
    },
  };
}

/** `tasks` with the log following the bundle of each task created. */
function withBundleLog(tasks: ServiceImpl<typeof Task>, log: FifoLogger): ServiceImpl<typeof Task> {
  return {
    ...tasks,
    create: async (req, ctx) => {
      const res = await tasks.create(req, ctx);
      if (req.bundle) log.follow(req.bundle);
      return res;
    },
  };
}

/**
 * Serves until stopped; resolves with why it stopped. Tells `o.readiness` once it listens, or why it could
 * not (then it throws that error).
 */
export async function shimServe(flags: ShimFlags, o: ServeOptions): Promise<string> {
  const env = o.env ?? process.env;
  const log = fifoLogger(o.bundle, flags.debug);
  const logger = log.logger;
  const ttrpcAddress = env.TTRPC_ADDRESS ?? "";
  const publisher = ttrpcAddress
    ? new TtrpcEventPublisher({ address: ttrpcAddress, namespace: flags.namespace, logger })
    : undefined;
  if (!publisher) logger.warn("TTRPC_ADDRESS is not set: task events go nowhere");
  let daemon: Daemon;
  try {
    const mode = bootstrapMode(env);
    const idleTimeoutMs = parseDuration(env[IDLE_TIMEOUT_ENV] || DEFAULT_IDLE_TIMEOUT, IDLE_TIMEOUT_ENV);
    const bound = boundName(flags.socket);
    const discovery = new DaemonSocket(flags.socket, bound, mode);
    daemon = await startDaemon({
      // The name this daemon binds; it is found through `flags.socket`, a link to it (daemon-socket.ts).
      socket: bound,
      logger,
      store: namespaceStoreRoot(defaultRoot(env), flags.namespace),
      // No owned root: this daemon serves one pod (or container) and shares the root with the others and with
      // `nodewasi shim serve`; every task of containerd has containerd's own bundle.
      pauseDir: defaultRoot(env),
      runner: { isolation: "auto" },
      events: publisher ?? nullPublisher,
      version: o.version,
      namespace: flags.namespace,
      idleTimeoutMs,
      shared: discovery,
      serve: async ({ tasks, track }) => {
        const impl = track(Task, withBundleLog(withStdinHolder(tasks), log));
        const server = await serveTasks(mode, bound, impl, logger);
        try {
          await discovery.publish();
        } catch (err) {
          await server.close(0);
          throw err;
        }
        return server;
      },
      stopped: async () => {
        if (!publisher) return;
        if (!(await publisher.drain(5000))) logger.warn(`exiting with ${publisher.pending} events unsent`);
        await publisher.close();
      },
    });
  } catch (err) {
    o.readiness?.failed(err);
    log.close();
    throw err;
  }
  stopOnSignals(daemon);
  process.on("SIGPIPE", () => {});
  logger.info(`serving ${flags.namespace}/${flags.id} on ${flags.socket}`, { pid: process.pid });
  o.readiness?.ready();
  const why = await daemon.closed;
  log.close();
  return why;
}
