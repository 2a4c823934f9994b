/**
 * What a service implementation is, independent of any transport (DESIGN decision 1): a plain object with one
 * async method per RPC, named by the RPC's lowerCamelCase `localName` (`Create` -> `create`, `CloseIO` ->
 * `closeIO`), from the generated request message to the response message. Failures are thrown, as
 * `ShimError`s with a gRPC code; the transports (src/rpc) turn them into wire statuses. Tests and other code
 * call the methods directly, without any server.
 *
 * Hand-written beside the generated code because both sides of the seam need it: `shim` implements services
 * and must not import `rpc`, which serves them. The shape follows connect-es's `ServiceImpl`, derived from a
 * protobuf-es service descriptor, so a missing or mistyped method is a compile error:
 * `const impl: ServiceImpl<typeof Task> = { ... }`.
 */
import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";

/** What an implementation learns about the call besides the request. */
export interface CallContext {
  /**
   * Aborts when the caller cancels, when the call's deadline (gRPC deadline, ttrpc `timeout_nano`) passes, or
   * when the connection goes. Long calls (`wait`, a pull) should stop work and reject when it fires.
   */
  signal: AbortSignal;
  /**
   * Request metadata with lower-case keys, each with its values in arrival order: gRPC headers, or ttrpc's
   * `KeyValue`s (e.g. `containerd-namespace-ttrpc`). Binary gRPC headers (`-bin` keys) are base64; HTTP/2 may
   * deliver a repeated gRPC header as one value joined with ", ".
   */
  metadata: Record<string, string[]>;
}

/**
 * One RPC's implementation: unary RPCs return a promise of the response; server-streaming RPCs return an
 * async iterable (an `async function*`) of responses, whose end ends the stream. A response may be a message
 * made with `create(Schema, ...)` or its init shape (a plain object with any subset of the fields).
 * Client- and bidi-streaming RPCs are not supported (containerd's and nodewasi's APIs have none).
 */
export type MethodImpl<M extends DescMethod> = M extends {
  methodKind: "unary";
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? (request: MessageShape<I>, ctx: CallContext) => Promise<MessageInitShape<O>>
  : M extends {
        methodKind: "server_streaming";
        input: infer I extends DescMessage;
        output: infer O extends DescMessage;
      }
    ? (request: MessageShape<I>, ctx: CallContext) => AsyncIterable<MessageInitShape<O>>
    : never;

/** A whole service's implementation: one `MethodImpl` per RPC, keyed by the RPC's `localName`. */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod ? MethodImpl<S["method"][K]> : never;
};

