/**
 * gRPC transport, server side (DESIGN decision 3): a `ServiceImpl` registered on a @grpc/grpc-js server from
 * its protobuf-es descriptor, so no grpc-js code generation is involved. Messages are (de)serialised with
 * protobuf-es `toBinary`/`fromBinary`; thrown errors become statuses through `errorToStatus`.
 */

import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { Code, type Logger, ShimError, silentLogger } from "../internal/index.js";
import { grpcJs } from "./grpc-js.js";
import { methodDefinition } from "./grpc-method.js";
import { listenUnix } from "./listen-unix.js";
import { type CallContext, isSupportedMethod, methodOf, type ServiceImpl } from "./service.js";
import { errorToStatus } from "./status.js";

export interface AddServiceOptions {
  /**
   * Fully-qualified service names to register the implementation under, instead of the descriptor's own.
   * containerd's task API is one set of messages under two names: pass `TASK_NAMES` (gen/task-names.ts) with
   * the v2 Task descriptor.
   */
  names?: readonly string[];
  /** Where errors that are not `ShimError`s (bugs, most likely) are logged; they still reach the caller. */
  logger?: Logger;
}

/** A grpc-js server with nodewasi's defaults; add services, then `listenUnix` (or all three: `serveGrpc`). */
export function createGrpcServer(options: grpc.ServerOptions = {}): grpc.Server {
  return new (grpcJs().Server)(options);
}

/**
 * Registers every RPC of `desc` on `server`, calling `impl`'s methods (`ServiceImpl`), under each of
 * `options.names` (default: the descriptor's name). Throws a `TypeError` when `impl` lacks a method or the
 * service has client- or bidi-streaming RPCs; grpc-js throws when a name is already registered on `server`.
 */
export function addService<S extends DescService>(
  server: grpc.Server,
  desc: S,
  impl: ServiceImpl<S>,
  options: AddServiceOptions = {},
): void {
  const logger = options.logger ?? silentLogger;
  for (const name of options.names ?? [desc.typeName]) {
    const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of desc.methods) {
      if (!isSupportedMethod(method)) {
        throw new TypeError(`${desc.typeName}/${method.name}: ${method.methodKind} RPCs are not supported`);
      }
      const fn = methodOf(impl, method);
      definition[method.localName] = methodDefinition(`/${name}/${method.name}`, method);
      handlers[method.localName] =
        method.methodKind === "unary"
          ? unaryHandler(method, fn as Unary, logger)
          : streamHandler(method, fn as Streaming, logger);
    }
    server.addService(definition, handlers);
  }
}

/**
 * Stops accepting calls and waits for running ones up to `graceMs`, then cancels whatever is left. Resolves
 * once the server is closed (its unix socket is removed by Node).
 */
export function shutdownServer(server: grpc.Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A gRPC server with the services `setup` registers, listening on the unix socket `path` (`listenUnix`); on a
 * listen failure the server is shut down and the `ShimError` thrown. The twin of `serveTtrpc`.
 */
export async function serveGrpc(path: string, setup: (server: grpc.Server) => void): Promise<grpc.Server> {
  const server = createGrpcServer();
  setup(server);
  try {
    await listenUnix(server, path);
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  return server;
}

type Unary = (request: unknown, ctx: CallContext) => Promise<unknown>;
type Streaming = (request: unknown, ctx: CallContext) => AsyncIterable<unknown>;

function unaryHandler(method: DescMethod, fn: Unary, logger: Logger): grpc.handleUnaryCall<object, object> {
  return (call, callback) => {
    const ctx = contextOf(call);
    Promise.resolve()
      .then(() => fn(call.request, ctx))
      .then(
        (response) => callback(null, create(method.output, response as never)),
        (err: unknown) => callback(toServiceError(method, err, logger)),
      );
  };
}

function streamHandler(
  method: DescMethod,
  fn: Streaming,
  logger: Logger,
): grpc.handleServerStreamingCall<object, object> {
  return async (call) => {
    const ctx = contextOf(call);
    try {
      for await (const message of fn(call.request, ctx)) {
        if (ctx.signal.aborted) break;
        // Honour backpressure: a slow reader pauses the producer instead of growing a buffer.
        if (!call.write(create(method.output, message as never))) await drained(call, ctx.signal);
      }
      if (!ctx.signal.aborted) call.end();
    } catch (err) {
      if (!ctx.signal.aborted) call.emit("error", toServiceError(method, err, logger));
    }
  };
}

function drained(call: grpc.ServerWritableStream<object, object>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.on("drain", done);
    signal.addEventListener("abort", done);
  });
}

/** The transport-free context of a call: aborts on cancel, deadline or disconnect (grpc-js "cancelled"). */
function contextOf(call: grpc.ServerUnaryCall<object, object> | grpc.ServerWritableStream<object, object>) {
  const controller = new AbortController();
  const abort = () => controller.abort(new ShimError(Code.Canceled, "call cancelled by the client"));
  if (call.cancelled) abort();
  else call.once("cancelled", abort);
  const metadata: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    metadata[key] = values.map((v) => (typeof v === "string" ? v : v.toString("base64")));
  }
  return { signal: controller.signal, metadata } satisfies CallContext;
}

function toServiceError(method: DescMethod, err: unknown, logger: Logger): Partial<grpc.StatusObject> {
  const status = errorToStatus(err);
  if (!(err instanceof ShimError)) {
    logger.error(`${method.parent.typeName}/${method.name} failed: ${status.message}`, {
      stack: err instanceof Error ? err.stack : undefined,
    });
  }
  return { code: status.code as number as grpc.status, details: status.message };
}
