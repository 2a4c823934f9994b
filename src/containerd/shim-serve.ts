/**
 * The daemon `start` leaves behind (`... -socket PATH serve`, run in the bundle): serves one TaskService
 * over ttrpc under `containerd.task.v2.Task` and `containerd.task.v3.Task` on a 0600 socket (reference
 * containerd-shim-protocol.md §1.4 "Daemonizing", §8), and forwards the tasks' events to `$TTRPC_ADDRESS`.
 *
 * - Logs go to the bundle's `log` FIFO, which containerd holds open O_RDWR (so opening it O_WRONLY|O_NONBLOCK
 *   never blocks) and copies to its own log; it is written through a libuv pipe handle, so a slow reader never
 *   fails a write with EAGAIN, and reopened after a containerd restart (fifoLogger). Each line starts with
 *   `time="<ISO 8601>"`, as containerd's own lines do.
 * - It owns no root (unlike `nodewasi shim serve`, DESIGN decision 18): one daemon per pod shares
 *   `$NODEWASI_ROOT` with the others, its tasks live in containerd's bundles, and a Create without a bundle
 *   (only a direct client sends one) is refused rather than given a folder there.
 * - It stops on SIGTERM/SIGINT, and after a Shutdown RPC that leaves no task (runc: `len(containers) > 0`
 *   keeps it alive). Stopping kills what still runs, unmounts rootfs mounts, removes the socket, and waits up
 *   to 5 s for the queued events (as Go's shim does).
 */
import { constants, openSync } from "node:fs";
import { rm } from "node:fs/promises";
import { Socket } from "node:net";
import { join } from "node:path";
import { createLogger, defaultRoot, type Logger, ShimError } from "../internal/index.js";
import {
  type EventPublisher,
  namespaceStoreRoot,
  nullPublisher,
  StoreImageResolver,
  TaskService,
} from "../shim/index.js";
import { ChildRunner } from "../wasi/index.js";
import { bootstrapMode, forgetBootstrap, recordBootstrap } from "./bootstrap.js";
import type { ShimFlags } from "./shim-flags.js";
import { withStdinHolder } from "./stdin-holder.js";
import { serveTasks, type TaskServer } from "./task-server.js";
import { TtrpcEventPublisher } from "./ttrpc-event-publisher.js";

export interface ServeOptions {
  bundle: string;
  version: string;
  /** Told once the socket listens ("ready") or could not ("error <code> <message>"). */
  ready?: (line: string) => void;
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

/** Serves until stopped; resolves with why it stopped. */
export async function shimServe(flags: ShimFlags, o: ServeOptions): Promise<string> {
  const env = o.env ?? process.env;
  const log = fifoLogger(o.bundle, flags.debug);
  const logger = log.logger;
  const ttrpcAddress = env.TTRPC_ADDRESS ?? "";
  const publisher = ttrpcAddress
    ? new TtrpcEventPublisher({ address: ttrpcAddress, namespace: flags.namespace, logger })
    : undefined;
  if (!publisher) logger.warn("TTRPC_ADDRESS is not set: task events go nowhere");
  const events: EventPublisher = publisher ?? nullPublisher;
  const runner = new ChildRunner({ isolation: "auto", logger });
  let stopping: Promise<string> | undefined;
  let resolveStopped!: (why: string) => void;
  const stopped = new Promise<string>((r) => (resolveStopped = r));
  const stop = (why: string) => {
    stopping ??= shutdown(why).then(
      () => why,
      (err: unknown) => {
        logger.error(`stopping: ${(err as Error).message}`);
        return why;
      },
    );
    void stopping.then(resolveStopped);
    return stopping;
  };
  const tasks = new TaskService({
    runner,
    images: new StoreImageResolver(namespaceStoreRoot(defaultRoot(env), flags.namespace), logger),
    events,
    // No stateDir: this daemon serves one pod (or container) and shares the root with the others and with
    // `nodewasi shim serve`; every task of containerd has containerd's own bundle, and a Create without one
    // is refused rather than given a folder under a root this daemon does not own.
    pauseDir: defaultRoot(env),
    onShutdown: () => {
      // Logged before the Shutdown reply: containerd stops copying this log once its `delete` has run, which
      // (bin/containerd-shim-nodewasi-v1 answers it without Node) can be before this daemon's last lines.
      logger.info("stopping (shutdown): no task left");
      setImmediate(() => void stop("shutdown"));
    },
    version: o.version,
    namespace: flags.namespace,
  });
  let server: TaskServer;
  try {
    const mode = bootstrapMode(env);
    server = await serveTasks(mode, flags.socket, withStdinHolder(tasks), logger);
    await recordBootstrap(flags.socket, mode);
  } catch (err) {
    const e = ShimError.from(err);
    o.ready?.(`error ${e.code} ${e.rawMessage}`);
    await runner.close();
    log.close();
    throw e;
  }
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => void stop(sig));
  process.on("SIGPIPE", () => {});
  logger.info(`serving ${flags.namespace}/${flags.id} on ${flags.socket}`, { pid: process.pid });
  o.ready?.("ready");

  async function shutdown(why: string): Promise<void> {
    if (why !== "shutdown") logger.info(`stopping (${why})`);
    // Kill what runs, so the clients' pending Waits are answered before the server stops taking calls.
    await tasks.killAll();
    await server.close(2000);
    await runner.close();
    await tasks.deleteAll((id, err) => logger.warn(`deleting task ${id} on exit: ${(err as Error).message}`));
    await rm(flags.socket, { force: true });
    await forgetBootstrap(flags.socket);
    if (publisher) {
      if (!(await publisher.drain(5000))) logger.warn(`exiting with ${publisher.pending} events unsent`);
      await publisher.close();
    }
    logger.info(`exiting (${why})`);
    log.close();
  }

  return stopped;
}
