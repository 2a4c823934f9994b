/**
 * Helpers for the ttrpc tests: a server on a unix socket in a fresh temp dir serving the fake Task service of
 * grpc-fixture.ts under both task names, and a raw connection that writes arbitrary bytes and reads decoded
 * Response frames, to play a broken or hostile peer.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { TASK_NAMES, Task, ttrpc } from "../../src/gen/index.js";
import type { Logger } from "../../src/internal/index.js";
import { encodeFrame, FrameDecoder, MessageType } from "../../src/rpc/ttrpc-frame.js";
import { TtrpcServer } from "../../src/rpc/ttrpc-server.js";
import { fakeTask, type TaskLog } from "./grpc-fixture.js";

export interface TtrpcFixture {
  server: TtrpcServer;
  dir: string;
  socket: string;
  log: TaskLog;
  /** Errors the server logged. */
  errors: string[];
  close(): Promise<void>;
}

/** A ttrpc server with the fake Task service (and whatever `extra` registers) on `<tmp>/run/shim.sock`. */
export async function startTtrpcFixture(
  extra: (server: TtrpcServer) => void = () => {},
): Promise<TtrpcFixture> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-ttrpc-"));
  const socket = join(dir, "run", "shim.sock");
  const errors: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) };
  const server = new TtrpcServer({ logger });
  const log: TaskLog = { created: [], metadata: [], aborted: [] };
  server.register(Task, fakeTask(log), { names: TASK_NAMES });
  extra(server);
  await server.listen(socket);
  return {
    server,
    dir,
    socket,
    log,
    errors,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A decoded Response frame as the raw peer saw it. */
export interface RawResponse {
  streamId: number;
  type: number;
  code: number;
  message: string;
  payload: Uint8Array;
}

/** A connection that speaks bytes, not calls. */
export class RawPeer {
  readonly socket: Socket;
  readonly responses: RawResponse[] = [];
  readonly #decoder = new FrameDecoder();
  #waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) {
        if (frame.kind !== "frame") continue;
        const res = fromBinary(ttrpc.ResponseSchema, frame.payload);
        this.responses.push({
          streamId: frame.header.streamId,
          type: frame.header.type,
          code: res.status?.code ?? 0,
          message: res.status?.message ?? "",
          payload: res.payload,
        });
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static open(path: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once("error", reject);
      socket.once("connect", () => resolve(new RawPeer(socket)));
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends a Request frame for `service`/`method` with an encoded payload on `streamId`. */
  request(streamId: number, service: string, method: string, payload: Uint8Array = new Uint8Array(0)): void {
    const req = create(ttrpc.RequestSchema, { service, method, payload });
    this.write(encodeFrame(streamId, MessageType.Request, 0, toBinary(ttrpc.RequestSchema, req)));
  }

  /** Resolves once `n` responses have arrived in all (rejects after 5 s). */
  async until(n: number): Promise<RawResponse[]> {
    const deadline = Date.now() + 5000;
    while (this.responses.length < n) {
      if (Date.now() > deadline)
        throw new Error(`expected ${n} responses, got ${JSON.stringify(this.responses)}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.responses;
  }

  close(): void {
    this.socket.destroy();
  }
}
