/**
 * Task events to containerd (DESIGN decision 15; reference containerd-shim-protocol.md §5): each event becomes
 * `ForwardRequest{Envelope{timestamp, namespace, topic, event: Any}}` sent to
 * `containerd.services.events.ttrpc.v1.Events/Forward` at `$TTRPC_ADDRESS`, with the metadata
 * `containerd-namespace-ttrpc: <namespace>`. The `Any`'s type URL is the BARE message name
 * (`containerd.events.TaskExit`): containerd 1.6 decodes with typeurl v1.0.2, which looks the name up exactly.
 *
 * Like Go's `runtime/v2/shim/publisher.go`: a bounded queue (2048), one call at a time so events arrive in the
 * order they were published (create, start, exit, delete), 5 s per call, a failed call retried with growing
 * delay after reconnecting, dropped (and logged) after `maxAttempts`.
 */
import { create, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { AnySchema, timestampNow } from "@bufbuild/protobuf/wkt";
import { EnvelopeSchema, Events } from "../gen/index.js";
import { type Logger, silentLogger } from "../internal/index.js";
import { connectTtrpc, createTtrpcClient, type TtrpcConnection } from "../rpc/index.js";
import type { EventPublisher, TaskEvent, TopicName } from "../shim/index.js";

export interface TtrpcEventPublisherOptions {
  /** containerd's ttrpc address (`$TTRPC_ADDRESS`: a bare path, or `unix:///path`). */
  address: string;
  /** The containerd namespace of the shim's tasks (`-namespace`). */
  namespace: string;
  logger?: Logger;
  /** Events waiting to go out; more are dropped with a warning. Default 2048 (Go's queueSize). */
  maxQueue?: number;
  /** Deadline of each Forward call. Default 5000 ms. */
  callTimeoutMs?: number;
  /** Tries per event before it is dropped. Default 8. */
  maxAttempts?: number;
  /** First retry delay, doubled each try up to `maxBackoffMs`. Defaults 50 ms and 2000 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

interface Queued {
  topic: TopicName;
  envelope: MessageShape<typeof EnvelopeSchema>;
}

export const NAMESPACE_METADATA = "containerd-namespace-ttrpc";

export class TtrpcEventPublisher implements EventPublisher {
  readonly #o: Required<Omit<TtrpcEventPublisherOptions, "logger">> & { logger: Logger };
  readonly #queue: Queued[] = [];
  #conn: TtrpcConnection | undefined;
  #pumping: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  /** Events dropped (queue full or out of attempts). */
  dropped = 0;

  constructor(options: TtrpcEventPublisherOptions) {
    this.#o = {
      maxQueue: 2048,
      callTimeoutMs: 5000,
      maxAttempts: 8,
      backoffMs: 50,
      maxBackoffMs: 2000,
      logger: silentLogger,
      ...options,
    };
  }

  /** Queues the event (never throws, never blocks); it goes out after every event published before it. */
  publish({ topic, schema, event }: TaskEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#o.maxQueue) {
      this.dropped++;
      this.#o.logger.warn(`events: queue full (${this.#o.maxQueue}), dropping ${topic}`);
      return;
    }
    this.#queue.push({
      topic,
      envelope: create(EnvelopeSchema, {
        timestamp: timestampNow(),
        namespace: this.#o.namespace,
        topic,
        // Bare type URL: no "type.googleapis.com/" prefix (anyPack would add one).
        event: create(AnySchema, { typeUrl: schema.typeName, value: toBinary(schema, event) }),
      }),
    });
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = undefined;
    });
  }

  /** Events not yet delivered. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Resolves true once the queue is empty, false if `timeoutMs` passes first (Go's shim waits 5 s on exit). */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.#queue.length === 0;
  }

  /** Stops sending (what is queued is dropped) and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    this.#wake?.();
    await this.#pumping;
    await this.#conn?.close();
    this.#conn = undefined;
  }

  async #pump(): Promise<void> {
    let attempt = 0;
    while (this.#queue.length > 0 && !this.#closed) {
      const item = this.#queue[0]!;
      try {
        await this.#send(item);
        this.#queue.shift();
        attempt = 0;
      } catch (err) {
        attempt++;
        const conn = this.#conn;
        this.#conn = undefined;
        await conn?.close().catch(() => {});
        if (attempt >= this.#o.maxAttempts) {
          this.#queue.shift();
          this.dropped++;
          attempt = 0;
          this.#o.logger.warn(
            `events: dropping ${item.topic} after ${this.#o.maxAttempts} attempts: ${(err as Error).message}`,
          );
          continue;
        }
        const delay = Math.min(this.#o.backoffMs * 2 ** (attempt - 1), this.#o.maxBackoffMs);
        this.#o.logger.debug(
          `events: ${item.topic} failed (${(err as Error).message}); retry in ${delay} ms`,
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  async #send(item: Queued): Promise<void> {
    if (!this.#conn || this.#conn.isClosed) {
      this.#conn = await connectTtrpc(this.#o.address, { timeoutMs: this.#o.callTimeoutMs });
    }
    const client = createTtrpcClient(Events, this.#conn, { timeoutMs: this.#o.callTimeoutMs });
    await client.forward(
      { envelope: item.envelope },
      { metadata: { [NAMESPACE_METADATA]: this.#o.namespace } },
    );
  }
}
