/**
 * A shim daemon, built one way for both composition roots: containerd's (`containerd-shim-nodewasi-v1 serve`,
 * containerd/shim-serve.ts) and the CLI's (`nodewasi shim serve`, cli/shim-daemon.ts). It makes the runner, the
 * image resolver and the Task service, has its caller bind them to a transport, and stops them in one order.
 *
 * What differs between daemons is given, not branched on here: the transport and the services on it
 * (`serve`), whether the daemon owns its state root (`ownedRoot`), where events go (`events`), an idle timeout,
 * the runner's sandbox and warm pool (`runner`), and the caller's own tidying (`tidy`, `stopped`).
 *
 * Starting: an owned root is claimed before anything else (a second claimant refuses, naming this daemon:
 * root-claim.ts), then what a dead owner left there goes (its overlays, task folders, and the caller's
 * leftovers); then the runner (whose warm pool starts at once, and which removes the warm sandboxes' slots
 * that killed daemons left: wasi/warm-slots.ts), the Task service, the transport, and the idle watch.
 *
 * A shared daemon (`shared`: containerd's, one per namespace or pod, found by its socket) outlives its tasks: with
 * an idle timeout, a Shutdown that leaves no task does not stop it (the next `start` finds it up), a task held
 * but stopped keeps it from idling (containerd holds a task until it deletes it), and when it has been idle it
 * first withdraws from discovery, then stops only if no client found it meanwhile (`SharedDiscovery`).
 *
 * Stopping, once, whatever asks (a signal, a Shutdown RPC that leaves no task, idleness): withdraw from
 * discovery, tell later claimants of the root that this owner is stopping (they wait for it), kill what runs so
 * that the clients'
 * pending Waits are answered while the transport still takes calls, stop the transport (2 s for calls in
 * flight), stop the runners, delete every task (their events are published), tidy, remove the socket, give
 * the root up, and last the caller's `stopped`.
 */
import { rm } from "node:fs/promises";
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "../gen/index.js";
import type { Logger } from "../internal/index.js";
import { ChildRunner, type ChildRunnerOptions } from "../wasi/index.js";
import type { EventPublisher } from "./events.js";
import { IdleWatch } from "./idle-watch.js";
import { StoreImageResolver } from "./image-resolver.js";
import { claimRoot, type RootOwnership } from "./root-claim.js";
import { removeLeftoverTasks, tasksDir } from "./task-dirs.js";
import { releaseTaskMounts } from "./task-rootfs.js";
import { TaskService } from "./task-service.js";

export interface DaemonOptions {
  /** The unix socket `serve` listens on; claimed with the root, removed when the daemon stops. */
  socket: string;
  logger: Logger;
  /** The content store images are resolved in. */
  store: string;
  /**
   * The state root this daemon owns for its life (DESIGN decision 18): tasks created without a bundle get
   * their folder under `<root>/tasks` there. Undefined for a daemon that shares its root with others
   * (containerd's: its tasks live in containerd's bundles), whose Task service refuses a Create without one.
   */
  ownedRoot?: string;
  /** Where the built-in pause module is written; default the owned root. */
  pauseDir?: string;
  /** The runner's sandbox and warm pool (ChildRunner's defaults when unset); it logs to `logger`. */
  runner?: Omit<ChildRunnerOptions, "logger">;
  /** Where the tasks' events go. */
  events: EventPublisher;
  /** Reported by the Task service's Connect. */
  version?: string;
  /** containerd's namespace when a call's metadata names none. */
  namespace?: string;
  /**
   * Stop after this long with no live task (for a `shared` daemon: no task at all) and no call in flight
   * (IdleWatch); 0 or unset never.
   */
  idleTimeoutMs?: number;
  /** For a daemon clients share and find by its socket; see `SharedDiscovery`. */
  shared?: SharedDiscovery;
  /**
   * Binds the transport: registers the services (each through `track`) and listens on `socket`. Throws the
   * listen's `ShimError`, leaving nothing of its own open.
   */
  serve(services: DaemonServices): Promise<DaemonServer>;
  /**
   * Removes what the caller's dead clients left (the CLI's FIFO folders): run before serving (once the root is
   * owned), and again when stopping, once the tasks are deleted. Its failure fails a start, not a stop.
   */
  tidy?(): Promise<void>;
  /** The last step of a stop, after the socket is gone (flushing events, forgetting a bootstrap record). */
  stopped?(): Promise<void>;
}

/**
 * How clients find a shared daemon, and how it stops being found (containerd/daemon-socket.ts). Before an idle
 * daemon stops it calls `withdraw`, which makes it unfindable to new clients and says whether one found it in
 * the meantime; if one did, or a call came in, `restore` makes it findable again and it serves on for another
 * idle period. Every other stop withdraws first too, so that no new client is sent to a daemon that is going.
 */
export interface SharedDiscovery {
  /** Makes the daemon unfindable; resolves false when a client found it since the last withdraw. */
  withdraw(): Promise<boolean>;
  /** Makes it findable again; resolves false when it cannot be (another daemon took its place). */
  restore(): Promise<boolean>;
}

/** What the daemon offers its transport. */
export interface DaemonServices {
  tasks: TaskService;
  /** `impl`, with its calls counted by the idle watch while they run (`impl` itself without one). */
  track<S extends DescService>(desc: S, impl: ServiceImpl<S>): ServiceImpl<S>;
}

/** A bound transport. */
export interface DaemonServer {
  /** Stops taking calls; calls in flight get `graceMs` to answer. */
  close(graceMs: number): Promise<void>;
}

export interface Daemon {
  readonly tasks: TaskService;
  /** Resolves with why the daemon stopped, once it has stopped and its socket is gone. */
  readonly closed: Promise<string>;
  /** Stops the daemon (idempotent); resolves as `closed` does. */
  close(reason: string): Promise<string>;
}

/** How long calls in flight get to answer once the daemon stops. */
const SERVER_GRACE_MS = 2000;

/**
 * Starts a daemon and resolves once it serves. Rejects (ShimError) when the root has another owner
 * (FailedPrecondition naming it) or the transport cannot listen (AlreadyExists when a server listens on the
 * socket), having released what it took.
 */
export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const owner = o.ownedRoot === undefined ? undefined : await claimRoot(o.ownedRoot, { address: o.socket });
  try {
    if (owner) await removeLeftovers(owner.root, o.logger);
    await o.tidy?.();
    return await serve(o, owner);
  } catch (err) {
    await owner?.release();
    throw err;
  }
}

/** Removes what a daemon that died owning `root` left in `<root>/tasks`: no live task owns it any more. */
async function removeLeftovers(root: string, logger: Logger): Promise<void> {
  // Overlays a dead daemon left mounted go first: its task folders cannot be removed under them.
  await releaseTaskMounts(tasksDir(root), logger);
  const left = await removeLeftoverTasks(root, (path, err) =>
    logger.warn(`removing ${path}, left by a daemon that died: ${(err as Error).message}`),
  );
  if (left.length) {
    logger.warn(`removed ${left.length} task folder(s) left by a daemon that died: ${left.join(", ")}`);
  }
}

async function serve(o: DaemonOptions, owner: RootOwnership | undefined): Promise<Daemon> {
  const logger = o.logger;
  const runner = new ChildRunner({ ...o.runner, logger });
  const timeoutMs = o.idleTimeoutMs ?? 0;
  const lingers = timeoutMs > 0;
  let stopping: Promise<string> | undefined;
  let resolveClosed!: (reason: string) => void;
  const closed = new Promise<string>((r) => (resolveClosed = r));
  const close = (reason: string): Promise<string> => {
    stopping ??= stop(reason).then(
      () => reason,
      (err: unknown) => {
        logger.error(`stopping: ${(err as Error).message}`);
        return reason;
      },
    );
    return stopping.then((r) => {
      resolveClosed(r);
      return r;
    });
  };
  const tasks = new TaskService({
    runner,
    images: new StoreImageResolver(o.store, logger),
    events: o.events,
    ...(owner ? { stateDir: owner.root } : {}),
    ...(o.pauseDir ? { pauseDir: o.pauseDir } : {}),
    logger,
    onShutdown: () => {
      if (o.shared && lingers) {
        // runc's shim likewise answers Shutdown and stays while it serves others; this one also waits for the
        // next task of its namespace, and the idle watch ends it.
        logger.info(`shutdown: no task left; serving on until idle for ${timeoutMs / 1000} s`);
        return;
      }
      // Logged before the Shutdown reply: containerd stops copying a shim's log once its `delete` has run,
      // which can be before this daemon's last lines.
      logger.info("stopping (shutdown): no task left");
      setImmediate(() => void close("shutdown"));
    },
    ...(o.version ? { version: o.version } : {}),
    ...(o.namespace ? { namespace: o.namespace } : {}),
  });
  const watch = lingers
    ? new IdleWatch({
        timeoutMs,
        // A task whose init has not exited keeps the daemon up; stopped tasks do not, but for a shared daemon,
        // whose client (containerd) holds a task until it deletes it.
        busy: o.shared
          ? () => tasks.containers.size > 0
          : () => [...tasks.containers.values()].some((c) => c.init.canSignal),
        onIdle: () => void idle(),
      })
    : undefined;
  let server: DaemonServer;
  try {
    server = await o.serve({ tasks, track: (desc, impl) => (watch ? watch.track(desc, impl) : impl) });
  } catch (err) {
    await runner.close();
    throw err;
  }
  watch?.start();

  /**
   * The idle watch fired. A shared daemon withdraws first and stops only if nobody found it meanwhile and no call
   * came in; otherwise it is found again and watched for another period. Once it cannot be found (another daemon
   * took its name) and holds nothing, it stops.
   */
  async function idle(): Promise<void> {
    if (o.shared && watch) {
      const free = await o.shared.withdraw().catch((err: Error) => {
        logger.warn(`withdrawing from discovery: ${err.message}`);
        return false;
      });
      if (!free || watch.active) {
        const findable = await o.shared.restore().catch((err: Error) => {
          logger.warn(`restoring discovery: ${err.message}`);
          return false;
        });
        if (findable || watch.active) {
          watch.start();
          return;
        }
      }
    }
    void close("idle");
  }

  async function stop(reason: string): Promise<void> {
    if (reason !== "shutdown") logger.info(`stopping (${reason})`);
    await o.shared
      ?.withdraw()
      .catch((err: Error) => logger.warn(`withdrawing from discovery: ${err.message}`));
    owner?.markStopping();
    watch?.stop();
    // Kill what runs, so the clients' pending Waits are answered before the server stops taking calls.
    await tasks.killAll();
    await server.close(SERVER_GRACE_MS);
    await runner.close();
    await tasks.deleteAll((id, err) => logger.warn(`deleting task ${id} on exit: ${(err as Error).message}`));
    await o.tidy?.().catch((err: Error) => logger.warn(err.message));
    await rm(o.socket, { force: true });
    await owner?.release();
    await o.stopped?.();
    logger.info(`exiting (${reason})`);
  }

  return { tasks, closed, close };
}

/** Stops `daemon` on SIGTERM and SIGINT, until it has stopped. */
export function stopOnSignals(daemon: Daemon): void {
  const onSignal = (signal: NodeJS.Signals) => void daemon.close(signal);
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  void daemon.closed.then(() => {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  });
}
