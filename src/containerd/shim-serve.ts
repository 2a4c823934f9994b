/**
 * The daemon `start` leaves behind (`... -socket PATH serve`, run in the bundle): the daemon of shim/daemon.ts
 * serving the Task service over ttrpc (or gRPC: bootstrap.ts) under both task names on a 0600 socket
 * (reference containerd-shim-protocol.md §1.4 "Daemonizing", §8), forwarding the tasks' events to
 * `$TTRPC_ADDRESS`. What is containerd's own:
 *
 * - Its readiness goes to `start` (internal/daemon-readiness.ts) once the socket listens and its bootstrap reply
 *   is recorded beside it.
 * - Logs go to the bundle's `log` FIFO, which containerd holds open O_RDWR (so opening it O_WRONLY|O_NONBLOCK
 *   never blocks) and copies to its own log; it is written through a libuv pipe handle, so a slow reader never
 *   fails a write with EAGAIN, and reopened after a containerd restart (fifoLogger). Each line starts with
 *   `time="<ISO 8601>"`, as containerd's own lines do.
 * - It owns no root (unlike `nodewasi shim serve`, DESIGN decision 18): one daemon per pod shares
 *   `$NODEWASI_ROOT` with the others, its tasks live in containerd's bundles, and a Create without a bundle
 *   (only a direct client sends one) is refused rather than given a folder there.
 * - It stops on SIGTERM/SIGINT, and after a Shutdown RPC that leaves no task (runc: `len(containers) > 0`
 *   keeps it alive). Stopping is the daemon's; then the bootstrap record goes and it waits up to 5 s for the
 *   queued events (as Go's shim does).
 */
import { constants, openSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { createLogger, type DaemonReadiness, defaultRoot, type Logger } from "../internal/index.js";
import { type Daemon, namespaceStoreRoot, nullPublisher, startDaemon, stopOnSignals } from "../shim/index.js";
import { bootstrapMode, forgetBootstrap, recordBootstrap } from "./bootstrap.js";
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

/**
 * Opens the bundle's `log` FIFO as a logger; lines are dropped while nobody reads it. When containerd
 * restarts, the FIFO loses its reader and the write end breaks; the next line reopens it, once the new
 * containerd holds it again (it reopens every shim's log on restore).
 */
export function fifoLogger(bundle: string, debug: boolean): { logger: Logger; close(): void } {
  const path = join(bundle, "log");
  let socket: Socket | undefined;
  let closed = false;
  const reopen = () => {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      const s = new Socket({ fd, readable: false, writable: true });
      s.on("error", () => s.destroy());
      s.on("close", () => {
        if (socket === s) socket = undefined;
      });
      s.unref();
      socket = s;
    } catch {
      socket = undefined; // ENOENT (run by hand) or ENXIO (no reader right now)
    }
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
    close: () => {
      closed = true;
      socket?.end();
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
    daemon = await startDaemon({
      socket: flags.socket,
      logger,
      store: namespaceStoreRoot(defaultRoot(env), flags.namespace),
      // No owned root: this daemon serves one pod (or container) and shares the root with the others and with
      // `nodewasi shim serve`; every task of containerd has containerd's own bundle.
      pauseDir: defaultRoot(env),
      runner: { isolation: "auto" },
      events: publisher ?? nullPublisher,
      version: o.version,
      namespace: flags.namespace,
      serve: async ({ tasks }) => {
        const server = await serveTasks(mode, flags.socket, withStdinHolder(tasks), logger);
        try {
          await recordBootstrap(flags.socket, mode);
        } catch (err) {
          await server.close(0);
          throw err;
        }
        return server;
      },
      stopped: async () => {
        await forgetBootstrap(flags.socket);
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
