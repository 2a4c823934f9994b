/**
 * ttrpc transport, client side (docs/TTRPC.md), for publishing events to containerd
 * (`containerd.services.events.ttrpc.v1.Events/Forward`) and for tests: a connection that multiplexes unary
 * calls, and a typed client over it shaped like grpc-client's. Follows containerd/ttrpc client.go: odd stream
 * ids from 1 up by 2, `timeout_nano` from the deadline, a missing status reads as OK. Reconnecting is the
 * caller's business: a closed connection fails its pending and later calls with Unavailable.
 */
import { connect, type Socket } from "node:net";
import {
  create,
  type DescMethod,
  type DescService,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { ttrpc } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import type { ClientMethod } from "./grpc-client.js";
import { statusToError } from "./status.js";
import { type DecodedFrame, encodeFrame, FrameDecoder, MessageType } from "./ttrpc-frame.js";

/** Per-call options. */
export interface TtrpcCallOptions {
  /** Cancels the call: the promise rejects with a Canceled `ShimError` (the server is not told; ttrpc has no cancel frame). */
  signal?: AbortSignal;
  /** Deadline in milliseconds from now, sent as `timeout_nano`; when it passes the call rejects DeadlineExceeded. */
  timeoutMs?: number;
  /** Request metadata (`KeyValue`s), e.g. `{"containerd-namespace-ttrpc": "default"}`. */
  metadata?: Record<string, string | string[]>;
}

/** A typed client of `S`: one promise-returning method per unary RPC, keyed by `localName`. */
export type TtrpcClient<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod & { methodKind: "unary" }
    ? ClientMethod<S["method"][K]>
    : never;
};

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(err: ShimError): void;
}

/** The largest stream id (u32). */
const MAX_STREAM_ID = 0xffff_ffff;

/** One ttrpc connection, client side. Calls may run concurrently; responses are matched by stream id. */
export class TtrpcConnection {
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder();
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #error: ShimError | undefined;
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>;

  constructor(socket: Socket, address: string) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) this.#receive(frame);
    });
    socket.on("error", (err) => this.#fail(`ttrpc connection to ${address} failed: ${err.message}`));
    socket.on("close", () => this.#fail(`ttrpc connection to ${address} closed`));
  }

  /** Whether the connection is closed (calls fail with Unavailable). */
  get isClosed(): boolean {
    return this.#error !== undefined;
  }

  /**
   * Calls `service`/`method` with an encoded request, resolving to the encoded response. Rejects with a
   * `ShimError`: the server's status, Canceled (signal), DeadlineExceeded (timeoutMs), ResourceExhausted
   * (request over 4 MiB, not sent), Unavailable (connection closed before the response).
   */
  call(
    service: string,
    method: string,
    payload: Uint8Array,
    options: TtrpcCallOptions = {},
  ): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (this.#error) return reject(this.#error);
      const { signal, timeoutMs } = options;
      if (signal?.aborted) {
        return reject(
          new ShimError(Code.Canceled, "call cancelled before it was sent", { cause: signal.reason }),
        );
      }
      if (this.#nextId > MAX_STREAM_ID) {
        return reject(new ShimError(Code.Unavailable, "ttrpc stream ids exhausted; open a new connection"));
      }
      const request = create(ttrpc.RequestSchema, {
        service,
        method,
        payload,
        timeoutNano: timeoutMs === undefined ? 0n : BigInt(Math.max(1, Math.ceil(timeoutMs * 1e6))),
        metadata: Object.entries(options.metadata ?? {}).flatMap(([key, value]) =>
          (Array.isArray(value) ? value : [value]).map((v) => ({ key, value: v })),
        ),
      });
      let frame: Buffer;
      try {
        frame = encodeFrame(this.#nextId, MessageType.Request, 0, toBinary(ttrpc.RequestSchema, request));
      } catch (err) {
        return reject(ShimError.from(err, Code.Internal));
      }
      const id = this.#nextId;
      this.#nextId += 2;
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        this.#pending.delete(id);
        signal?.removeEventListener("abort", onAbort);
        clearTimeout(timer);
      };
      const onAbort = () => {
        settle();
        reject(new ShimError(Code.Canceled, `${service}/${method} cancelled`, { cause: signal?.reason }));
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          settle();
          reject(
            new ShimError(
              Code.DeadlineExceeded,
              `${service}/${method}: deadline of ${timeoutMs} ms exceeded`,
            ),
          );
        }, timeoutMs);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (bytes) => {
          settle();
          resolve(bytes);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
      this.#socket.write(frame);
    });
  }

  /** Closes the connection; pending calls reject with Unavailable. */
  close(): Promise<void> {
    this.#socket.destroy();
    return this.closed;
  }

  #receive(frame: DecodedFrame): void {
    const pending = this.#pending.get(frame.header.streamId);
    // A late answer to a cancelled call, a peer's mistake, or a Data frame: ignored, as Go's client does.
    if (!pending || (frame.kind === "frame" && frame.header.type !== MessageType.Response)) return;
    const outcome = settle(frame);
    if (outcome instanceof ShimError) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  #fail(message: string): void {
    this.#error ??= new ShimError(Code.Unavailable, message);
    for (const pending of [...this.#pending.values()]) pending.reject(this.#error);
    this.#socket.destroy();
  }
}

/** A Response frame's payload, or the error it stands for (ttrpc: a missing status is OK). */
function settle(frame: DecodedFrame): Uint8Array | ShimError {
  if (frame.kind === "oversized") {
    const message = `response of ${frame.header.length} bytes exceeds the 4 MiB ttrpc limit`;
    return new ShimError(Code.ResourceExhausted, message);
  }
  let response: ttrpc.Response;
  try {
    response = fromBinary(ttrpc.ResponseSchema, frame.payload);
  } catch (err) {
    return new ShimError(Code.Internal, "ttrpc: malformed response", { cause: err });
  }
  return response.status && response.status.code !== Code.OK
    ? statusToError(response.status)
    : response.payload;
}

/**
 * Connects to the ttrpc server at `address` (an absolute path or `unix:///path`); resolves once connected.
 * Rejects with an Unavailable `ShimError` when nobody listens there (ENOENT, ECONNREFUSED) or `timeoutMs`
 * passes, Canceled when `signal` aborts.
 */
export function connectTtrpc(
  address: string,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<TtrpcConnection> {
  const path = address.startsWith("unix://") ? address.slice("unix://".length) : address;
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let timer: NodeJS.Timeout | undefined;
    const fail = (err: ShimError) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(err);
    };
    const onAbort = () => fail(new ShimError(Code.Canceled, `connecting to ${address} cancelled`));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(
        () =>
          fail(
            new ShimError(
              Code.Unavailable,
              `no ttrpc server answered on ${address} in ${options.timeoutMs} ms`,
            ),
          ),
        options.timeoutMs,
      );
    }
    socket.once("error", (err) =>
      fail(
        new ShimError(Code.Unavailable, `cannot connect to ttrpc server ${address}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    socket.once("connect", () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.removeAllListeners("error");
      resolve(new TtrpcConnection(socket, address));
    });
  });
}

export interface TtrpcClientOptions {
  /** Service name to call instead of the descriptor's (e.g. "containerd.task.v3.Task" with the v2 one). */
  name?: string;
  /** Default deadline of each call in milliseconds; none when unset. */
  timeoutMs?: number;
}

/**
 * A typed client of `desc`'s unary RPCs over `conn`: `client.forward(req, {signal, timeoutMs, metadata})`.
 * Requests may be messages or init shapes. A response payload that does not decode rejects Internal.
 */
export function createTtrpcClient<S extends DescService>(
  desc: S,
  conn: TtrpcConnection,
  options: TtrpcClientOptions = {},
): TtrpcClient<S> {
  const service = options.name ?? desc.typeName;
  const client: Record<string, unknown> = {};
  for (const method of desc.methods) {
    if (method.methodKind !== "unary") continue;
    client[method.localName] = async (
      request: MessageInitShape<DescMethod["input"]> = {},
      call: TtrpcCallOptions = {},
    ) => {
      const withDefaults =
        call.timeoutMs === undefined && options.timeoutMs !== undefined
          ? { ...call, timeoutMs: options.timeoutMs }
          : call;
      const payload = toBinary(method.input, create(method.input, request));
      const bytes = await conn.call(service, method.name, payload, withDefaults);
      try {
        return fromBinary(method.output, bytes);
      } catch (err) {
        throw new ShimError(Code.Internal, `${service}/${method.name}: malformed response payload`, {
          cause: err,
        });
      }
    };
  }
  return client as TtrpcClient<S>;
}
