/**
 * gRPC transport, client side: a typed client from a protobuf-es service descriptor, over @grpc/grpc-js. Each
 * RPC is a method of the same lowerCamelCase name: unary RPCs return a promise of the response, server-
 * streaming RPCs an async iterable. Failures reject (or throw from the iteration) with a `ShimError` carrying
 * the server's code and message, so the CLI can act on `Code.NotFound` or `Code.Unavailable` (no shim).
 */

import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { Code, ShimError } from "../internal/index.js";
import { grpcJs } from "./grpc-js.js";
import { methodDefinition } from "./grpc-method.js";
import { isSupportedMethod } from "./service.js";
import { statusToError } from "./status.js";

/** Per-call options. */
export interface CallOptions {
  /** Cancels the call: the promise rejects (the iteration throws) with a Canceled `ShimError`. */
  signal?: AbortSignal;
  /** Deadline, in milliseconds from now; overrides the client's. Exceeded: DeadlineExceeded. */
  timeoutMs?: number;
  /** Request metadata (gRPC headers). */
  metadata?: Record<string, string | string[]>;
  /** Wait for the server to come up (until the deadline) instead of failing Unavailable at once. */
  waitForReady?: boolean;
}

/** One RPC as the client sees it. */
export type ClientMethod<M extends DescMethod> = M extends {
  methodKind: "unary";
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? (request?: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
  : M extends {
        methodKind: "server_streaming";
        input: infer I extends DescMessage;
        output: infer O extends DescMessage;
      }
    ? (request?: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
    : never;

/** A client of service `S`: one `ClientMethod` per RPC, keyed by the RPC's `localName`. */
export type Client<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod ? ClientMethod<S["method"][K]> : never;
};

export interface ClientOptions {
  /** Service name to call instead of the descriptor's (e.g. "containerd.task.v3.Task" with the v2 one). */
  name?: string;
  /** Default deadline of each call in milliseconds; none when unset. */
  timeoutMs?: number;
}

/** The channels that `createClient` opened itself, so `closeClient` can close them. */
const owned = new WeakMap<object, grpc.Client>();

/**
 * A grpc-js channel to `address`: a bare absolute path or `unix:///path` for a unix socket, or any target
 * grpc-js accepts. One channel can serve several clients (`createClient(desc, channel)`); close it with
 * `channel.close()`.
 */
export function connectGrpc(address: string, options: grpc.ChannelOptions = {}): grpc.Client {
  const target = address.startsWith("/") ? `unix://${address}` : address;
  const g = grpcJs();
  return new g.Client(target, g.credentials.createInsecure(), options);
}

/**
 * A typed client of `desc` on `channel` (an address for a channel of its own, closed by `closeClient`, or
 * a `connectGrpc` channel shared with other clients). No connection is made until the first call.
 */
export function createClient<S extends DescService>(
  desc: S,
  channel: string | grpc.Client,
  options: ClientOptions = {},
): Client<S> {
  const grpcClient = typeof channel === "string" ? connectGrpc(channel) : channel;
  const client: Record<string, unknown> = {};
  for (const method of desc.methods) {
    if (!isSupportedMethod(method)) continue;
    const definition = methodDefinition(`/${options.name ?? desc.typeName}/${method.name}`, method);
    client[method.localName] =
      method.methodKind === "unary"
        ? (request: object = {}, call: CallOptions = {}) =>
            unary(grpcClient, definition, request, withDefaults(call, options))
        : (request: object = {}, call: CallOptions = {}) =>
            serverStream(grpcClient, definition, request, withDefaults(call, options));
  }
  if (typeof channel === "string") owned.set(client, grpcClient);
  return client as Client<S>;
}

/** Closes the channel that `createClient` opened for `client`; a shared channel is left to its owner. */
export function closeClient(client: object): void {
  owned.get(client)?.close();
  owned.delete(client);
}

function withDefaults(call: CallOptions, options: ClientOptions): CallOptions {
  return call.timeoutMs === undefined && options.timeoutMs !== undefined
    ? { ...call, timeoutMs: options.timeoutMs }
    : call;
}

function grpcOptions(call: CallOptions): [grpc.Metadata, grpc.CallOptions] {
  const metadata = new (grpcJs().Metadata)(call.waitForReady ? { waitForReady: true } : {});
  for (const [key, value] of Object.entries(call.metadata ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) metadata.add(key, v);
  }
  const options: grpc.CallOptions = {};
  if (call.timeoutMs !== undefined) options.deadline = Date.now() + call.timeoutMs;
  return [metadata, options];
}

function unary(
  client: grpc.Client,
  def: grpc.MethodDefinition<object, object>,
  request: object,
  call: CallOptions,
): Promise<never> {
  return new Promise((resolve, reject) => {
    if (call.signal?.aborted) return reject(canceled(call.signal));
    const [metadata, options] = grpcOptions(call);
    const onAbort = () => pending.cancel();
    const pending = client.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      request,
      metadata,
      options,
      (err, response) => {
        call.signal?.removeEventListener("abort", onAbort);
        if (err) reject(fromServiceError(err));
        else resolve(response as never);
      },
    );
    call.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function* serverStream(
  client: grpc.Client,
  def: grpc.MethodDefinition<object, object>,
  request: object,
  call: CallOptions,
): AsyncGenerator<never> {
  if (call.signal?.aborted) throw canceled(call.signal);
  const [metadata, options] = grpcOptions(call);
  const stream = client.makeServerStreamRequest(
    def.path,
    def.requestSerialize,
    def.responseDeserialize,
    request,
    metadata,
    options,
  );
  const onAbort = () => stream.cancel();
  call.signal?.addEventListener("abort", onAbort, { once: true });
  let ended = false;
  try {
    for await (const message of stream) yield message as never;
    ended = true;
  } catch (err) {
    ended = true;
    throw fromServiceError(err);
  } finally {
    call.signal?.removeEventListener("abort", onAbort);
    // The consumer stopped early (break, return, throw): tell the server to stop producing.
    if (!ended) stream.cancel();
  }
}

function canceled(signal: AbortSignal): ShimError {
  return new ShimError(Code.Canceled, "call cancelled before it was sent", { cause: signal.reason });
}

/** A grpc-js `ServiceError` (code + details) as the `ShimError` the server threw. */
function fromServiceError(err: unknown): ShimError {
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e?.code !== "number") return ShimError.from(err);
  return statusToError({ code: e.code, message: e.details ?? e.message ?? "" }, err);
}
