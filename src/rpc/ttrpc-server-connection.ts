/**
 * One accepted ttrpc connection, server side: frames in, unary calls dispatched concurrently, responses out
 * in completion order. Behaviour follows containerd/ttrpc server.go (`serverConn.run`) and services.go; the
 * differences are listed in docs/TTRPC.md.
 */
import type { Socket } from "node:net";
import { create, type DescMethod, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ttrpc } from "../gen/index.js";
import { Code, type Logger, ShimError } from "../internal/index.js";
import type { CallContext } from "./service.js";
import { errorToStatus, type WireStatus } from "./status.js";
import {
  type DecodedFrame,
  encodeFrame,
  FrameDecoder,
  MESSAGE_LENGTH_MAX,
  MessageType,
} from "./ttrpc-frame.js";

/** A registered unary RPC: its descriptor and the bound implementation. */
export interface TtrpcHandler {
  method: DescMethod;
  fn: (request: unknown, ctx: CallContext) => Promise<unknown>;
}

/** Service name -> method name (`Create`) -> handler. */
export type TtrpcHandlers = Map<string, Map<string, TtrpcHandler>>;

/** Longest timer Node keeps (2^31 - 1 ms); a longer `timeout_nano` is as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Serves `socket` until either side closes it. Contract (ttrpc server.go unless noted):
 * - Oversized frame (data > 4 MiB): its data is discarded, RESOURCE_EXHAUSTED on its stream id, connection kept.
 * - Even stream id: INVALID_ARGUMENT "StreamID must be odd for client initiated streams"; a Request whose id
 *   is not above the last accepted one: INVALID_ARGUMENT "StreamID cannot be re-used and must increment".
 * - Request that does not decode: INVALID_ARGUMENT; payload that does not decode as the method's input:
 *   INTERNAL; unknown service: UNIMPLEMENTED "service X"; unknown method: UNIMPLEMENTED "method X".
 * - Each valid Request runs at once, concurrently with the others; its response goes out when it completes
 *   (`status {code: 0}` and the payload, or the error's status and no payload, through `errorToStatus`).
 * - `timeout_nano` > 0 aborts the call's signal with DeadlineExceeded when it passes (<= 0: none, as Go's
 *   zero; Go treats negative as already expired, which no client sends). The response still waits for the
 *   implementation, as in Go.
 * - Data frames (streaming) are not supported: INVALID_ARGUMENT "StreamID is no longer active" for an id with
 *   no call in flight, ignored on a unary call's id (Go would crash there). Unknown types and Response frames
 *   from the client are ignored.
 * - End of stream, a read error or a truncated frame closes the connection and aborts every call in flight
 *   with Canceled; responses finished afterwards are dropped. Nothing a peer sends can throw out of here.
 */
export class TtrpcServerConnection {
  readonly #socket: Socket;
  readonly #handlers: TtrpcHandlers;
  readonly #logger: Logger;
  readonly #decoder = new FrameDecoder();
  /** Calls in flight by stream id. */
  readonly #calls = new Map<number, AbortController>();
  #lastStreamId = 0;
  #closed = false;
  #onIdle: (() => void) | undefined;
  /** Resolves once the socket is closed. */
  readonly closed: Promise<void>;

  constructor(socket: Socket, handlers: TtrpcHandlers, logger: Logger) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#logger = logger;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("end", () => this.#close(this.#decoder.pending > 0 ? "truncated frame at end of stream" : ""));
    socket.on("error", (err) => this.#close(`read error: ${err.message}`));
    socket.on("close", () => this.#close(""));
  }

  /** How many calls are in flight. */
  get active(): number {
    return this.#calls.size;
  }

  /** Closes the connection once no call is in flight (at once when idle). */
  closeWhenIdle(): void {
    if (this.#calls.size === 0) this.destroy();
    else this.#onIdle = () => this.destroy();
  }

  /** Closes the connection now, aborting every call in flight. */
  destroy(): void {
    this.#close("");
  }

  #close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (reason) this.#logger.debug(`ttrpc: closing connection: ${reason}`);
    const cause = new ShimError(Code.Canceled, "ttrpc connection closed");
    for (const controller of this.#calls.values()) controller.abort(cause);
    this.#calls.clear();
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    for (const frame of this.#decoder.push(chunk)) {
      if (this.#closed) return;
      try {
        this.#handleFrame(frame);
      } catch (err) {
        // A bug here must cost one connection, not the process.
        this.#logger.error(`ttrpc: dropping connection after an internal error: ${String(err)}`);
        this.#close("internal error");
      }
    }
  }

  #handleFrame(frame: DecodedFrame): void {
    const refusal = this.#dispatch(frame);
    if (refusal) this.#respond(frame.header.streamId, refusal);
  }

  /** Starts the call `frame` asks for; returns the status to answer instead, if any (ttrpc server.go order). */
  #dispatch(frame: DecodedFrame): WireStatus | undefined {
    const { streamId, type, length } = frame.header;
    const invalid = (message: string) => ({ code: Code.InvalidArgument, message });
    if (frame.kind === "oversized") {
      const message = `message length ${length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`;
      return { code: Code.ResourceExhausted, message };
    }
    if (streamId % 2 !== 1) return invalid("StreamID must be odd for client initiated streams");
    if (type === MessageType.Data) {
      // Data on a unary call's stream is not allowed and not answered; on any other stream it is refused.
      return this.#calls.has(streamId) ? undefined : invalid("StreamID is no longer active");
    }
    if (type !== MessageType.Request) return undefined; // ttrpc: ignored for future compatibility
    if (streamId <= this.#lastStreamId) return invalid("StreamID cannot be re-used and must increment");
    this.#lastStreamId = streamId;
    let request: ttrpc.Request;
    try {
      request = fromBinary(ttrpc.RequestSchema, frame.payload);
    } catch (err) {
      return invalid(`unmarshal request error: ${err instanceof Error ? err.message : String(err)}`);
    }
    const service = this.#handlers.get(request.service);
    if (!service) return { code: Code.Unimplemented, message: `service ${request.service}` };
    const handler = service.get(request.method);
    if (!handler) return { code: Code.Unimplemented, message: `method ${request.method}` };
    this.#call(streamId, request, handler);
    return undefined;
  }

  #call(streamId: number, request: ttrpc.Request, handler: TtrpcHandler): void {
    const controller = new AbortController();
    this.#calls.set(streamId, controller);
    const timer = deadline(request.timeoutNano, controller);
    const ctx: CallContext = { signal: controller.signal, metadata: metadataOf(request.metadata) };
    const name = `${request.service}/${request.method}`;
    Promise.resolve()
      .then(() => {
        let input: unknown;
        try {
          input = fromBinary(handler.method.input, request.payload);
        } catch (err) {
          const detail = err instanceof Error ? err.message : String(err);
          throw new ShimError(Code.Internal, `ttrpc: error unmarshalling payload: ${detail}`);
        }
        return handler.fn(input, ctx);
      })
      .then(
        (response) => {
          const payload = toBinary(handler.method.output, create(handler.method.output, response as never));
          return { status: { code: Code.OK, message: "" }, payload };
        },
        (err: unknown) => {
          if (!(err instanceof ShimError)) {
            this.#logger.error(`${name} failed: ${String(err)}`, {
              stack: err instanceof Error ? err.stack : undefined,
            });
          }
          return { status: errorToStatus(err), payload: new Uint8Array(0) };
        },
      )
      .then(({ status, payload }) => {
        if (timer) clearTimeout(timer);
        if (this.#calls.get(streamId) !== controller) return; // the connection closed meanwhile
        this.#calls.delete(streamId);
        this.#respond(streamId, status, payload);
        if (this.#calls.size === 0) this.#onIdle?.();
      })
      .catch((err: unknown) => this.#logger.error(`ttrpc: ${name}: ${String(err)}`));
  }

  /**
   * Sends a Response on `streamId`. A response whose frame would pass 4 MiB is replaced by a
   * RESOURCE_EXHAUSTED status (Go's server closes the connection instead).
   */
  #respond(streamId: number, status: WireStatus, payload: Uint8Array = new Uint8Array(0)): void {
    if (this.#closed || this.#socket.destroyed) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(streamId, MessageType.Response, 0, responseBytes(status, payload));
    } catch (err) {
      const e = ShimError.from(err, Code.Internal);
      const message = `response to stream ${streamId} not sent: ${e.rawMessage}`;
      frame = encodeFrame(streamId, MessageType.Response, 0, responseBytes({ code: e.code, message }));
    }
    this.#socket.write(frame);
  }
}

function responseBytes(status: WireStatus, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return toBinary(ttrpc.ResponseSchema, create(ttrpc.ResponseSchema, { status, payload }));
}

/** ttrpc `KeyValue`s as `CallContext.metadata`: keys lower-cased, values in arrival order. */
function metadataOf(pairs: ttrpc.KeyValue[]): Record<string, string[]> {
  const metadata = new Map<string, string[]>();
  for (const { key, value } of pairs) {
    const k = key.toLowerCase();
    metadata.set(k, [...(metadata.get(k) ?? []), value]);
  }
  // A plain object indexed by wire keys would read `__proto__` as Object.prototype (not iterable: a TypeError
  // that cost the connection); fromEntries defines own properties, so every key stays plain data.
  return Object.fromEntries(metadata);
}

/** Arms the call's deadline (`timeout_nano`, nanoseconds from receipt); none for 0 or less. */
function deadline(timeoutNano: bigint, controller: AbortController): NodeJS.Timeout | undefined {
  if (timeoutNano <= 0n) return undefined;
  const ms = Number((timeoutNano + 999_999n) / 1_000_000n);
  if (ms > MAX_TIMER_MS) return undefined;
  const timer = setTimeout(
    () => controller.abort(new ShimError(Code.DeadlineExceeded, "context deadline exceeded")),
    ms,
  );
  timer.unref();
  return timer;
}
