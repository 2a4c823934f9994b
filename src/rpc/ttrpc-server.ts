/**
 * ttrpc transport, server side (DESIGN decision 2; the wire protocol is in docs/TTRPC.md): serves the same
 * `ServiceImpl` objects as the gRPC transport, on a unix socket, for containerd's shim API. Unary RPCs only
 * (containerd's Task and Events services have no others).
 */
import { chmod } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { Code, type Logger, ShimError, silentLogger } from "../internal/index.js";
import { prepareUnixSocket } from "./listen-unix.js";
import { methodOf, type ServiceImpl } from "./service.js";
import { type TtrpcHandler, type TtrpcHandlers, TtrpcServerConnection } from "./ttrpc-server-connection.js";

export interface TtrpcRegisterOptions {
  /**
   * Fully-qualified service names to answer under, instead of the descriptor's own: pass `TASK_NAMES`
   * (gen/task-names.ts) with the v2 Task descriptor.
   */
  names?: readonly string[];
}

export interface TtrpcServerOptions {
  /** Where failures that are not `ShimError`s (bugs) and dropped connections are logged. */
  logger?: Logger;
}

/**
 * A ttrpc server: `register` services, `listen` on a unix socket (or hand it sockets with `serveSocket`),
 * `close`. Each connection is served independently (ttrpc-server-connection.ts); a broken peer costs only
 * its own connection.
 */
export class TtrpcServer {
  readonly #handlers: TtrpcHandlers = new Map();
  readonly #connections = new Set<TtrpcServerConnection>();
  readonly #logger: Logger;
  #listener: Server | undefined;
  #closing = false;

  constructor(options: TtrpcServerOptions = {}) {
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Answers every unary RPC of `desc` with `impl`'s method under each of `options.names` (default: the
   * descriptor's name). Streaming RPCs are left out, so calls to them answer UNIMPLEMENTED. Throws a
   * `TypeError` when `impl` lacks a unary method or a name is already registered (ttrpc panics likewise).
   */
  register<S extends DescService>(desc: S, impl: ServiceImpl<S>, options: TtrpcRegisterOptions = {}): void {
    const methods = new Map<string, TtrpcHandler>();
    for (const method of desc.methods) {
      if (method.methodKind !== "unary") continue;
      const fn = methodOf(impl, method) as TtrpcHandler["fn"];
      methods.set(method.name, { method, fn });
    }
    const names = options.names ?? [desc.typeName];
    for (const name of names) {
      if (this.#handlers.has(name)) throw new TypeError(`ttrpc: duplicate service ${name} registered`);
    }
    for (const name of names) this.#handlers.set(name, methods);
  }

  /**
   * Listens on the unix socket at `path` and resolves once it accepts connections: `prepareUnixSocket`'s
   * checks (absolute and short path, folders 0700, stale socket replaced, a live one never stolen), then the
   * socket made 0600. Throws `ShimError`s: those of `prepareUnixSocket`, FailedPrecondition when already
   * listening or closed, Unavailable for a bind error.
   */
  async listen(path: string): Promise<void> {
    if (this.#listener || this.#closing) {
      throw new ShimError(Code.FailedPrecondition, "ttrpc server is already listening or closed");
    }
    await prepareUnixSocket(path);
    const listener = createServer((socket) => this.serveSocket(socket));
    this.#listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once("error", (err) => reject(ShimError.from(err, Code.Unavailable)));
      listener.listen(path, () => resolve());
    });
    listener.on("error", (err) => this.#logger.error(`ttrpc: listener on ${path}: ${err.message}`));
    await chmod(path, 0o600);
  }

  /** Serves an already connected socket (an accepted or inherited one); closed at once after `close`. */
  serveSocket(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const connection = new TtrpcServerConnection(socket, this.#handlers, this.#logger);
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }

  /** Calls in flight over all connections. */
  get activeCalls(): number {
    let n = 0;
    for (const c of this.#connections) n += c.active;
    return n;
  }

  /**
   * Stops accepting connections (Node removes the socket file), closes idle connections at once and busy ones
   * once their calls have answered, as ttrpc's `Shutdown`; after `graceMs` closes the rest, aborting their
   * calls' signals (ttrpc's `Close`). Resolves when every connection is closed. Idempotent.
   */
  async close(graceMs = 0): Promise<void> {
    this.#closing = true;
    const listener = this.#listener;
    const listenerClosed = listener
      ? new Promise<void>((resolve) => listener.close(() => resolve()))
      : Promise.resolve();
    for (const c of this.#connections) c.closeWhenIdle();
    const all = Promise.all([...this.#connections].map((c) => c.closed));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      all,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const c of this.#connections) c.destroy();
    await Promise.all([all, listenerClosed]);
  }
}

/**
 * A `TtrpcServer` with the services `setup` registers, listening on `path`; on a listen failure the server
 * is closed and the `ShimError` thrown.
 */
export async function serveTtrpc(
  path: string,
  setup: (server: TtrpcServer) => void,
  options: TtrpcServerOptions = {},
): Promise<TtrpcServer> {
  const server = new TtrpcServer(options);
  setup(server);
  try {
    await server.listen(path);
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}
