/** The ttrpc client against a scripted raw server: what it sends, and how it reads what comes back. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { ConnectResponseSchema, Task, ttrpc } from "../gen/index.js";
import { Code } from "../internal/index.js";
import { connectTtrpc, createTtrpcClient } from "./ttrpc-client.js";
import { encodeFrame, FrameDecoder, MessageType } from "./ttrpc-frame.js";

interface Seen {
  streamId: number;
  flags: number;
  request: ttrpc.Request;
  socket: Socket;
}

describe("ttrpc client", () => {
  let dir: string;
  let socket: string;
  let server: Server;
  const seen: Seen[] = [];
  /** How the scripted server answers each request (default: not at all). */
  let answer: (s: Seen) => void = () => {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-ttrpc-client-"));
    socket = join(dir, "s.sock");
    server = createServer((sock) => {
      const decoder = new FrameDecoder();
      sock.on("data", (chunk: Buffer) => {
        for (const f of decoder.push(chunk)) {
          if (f.kind !== "frame") continue;
          const s = {
            streamId: f.header.streamId,
            flags: f.header.flags,
            request: fromBinary(ttrpc.RequestSchema, f.payload),
            socket: sock,
          };
          seen.push(s);
          answer(s);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const respond = (s: Seen, response: MessageInitShape<typeof ttrpc.ResponseSchema> | Uint8Array) =>
    s.socket.write(
      encodeFrame(
        s.streamId,
        MessageType.Response,
        0,
        response instanceof Uint8Array
          ? response
          : toBinary(ttrpc.ResponseSchema, create(ttrpc.ResponseSchema, response)),
      ),
    );

  it("numbers requests 1, 3, 5... and sends service, method, timeout_nano and metadata", async () => {
    seen.length = 0;
    answer = (s) => respond(s, { status: { code: 0, message: "" } });
    const conn = await connectTtrpc(`unix://${socket}`);
    const task = createTtrpcClient(Task, conn, { name: "containerd.task.v3.Task", timeoutMs: 5000 });
    await Promise.all([
      task.connect({ id: "a" }, { metadata: { "containerd-namespace-ttrpc": "default", x: ["1", "2"] } }),
      task.connect({ id: "b" }),
      task.connect({ id: "c" }, { timeoutMs: 1500.5 }),
    ]);
    assert.deepEqual(
      seen.map((s) => s.streamId),
      [1, 3, 5],
    );
    assert.ok(
      seen.every(
        (s) =>
          s.flags === 0 && s.request.service === "containerd.task.v3.Task" && s.request.method === "Connect",
      ),
    );
    assert.equal(seen[0]!.request.timeoutNano, 5_000_000_000n);
    assert.equal(seen[2]!.request.timeoutNano, 1_500_500_000n);
    assert.deepEqual(
      seen[0]!.request.metadata.map((kv) => [kv.key, kv.value]),
      [
        ["containerd-namespace-ttrpc", "default"],
        ["x", "1"],
        ["x", "2"],
      ],
    );
    await conn.close();
  });

  it("matches out-of-order responses by stream id; a missing status is OK; strays are ignored", async () => {
    seen.length = 0;
    const held: Seen[] = [];
    answer = (s) => held.push(s);
    const conn = await connectTtrpc(socket);
    const task = createTtrpcClient(Task, conn);
    const calls = [1, 2, 3].map((pid) => task.connect({ id: String(pid) }));
    while (held.length < 3) await new Promise((r) => setTimeout(r, 5));
    const payload = (pid: number) =>
      toBinary(ConnectResponseSchema, create(ConnectResponseSchema, { taskPid: pid }));
    respond({ ...held[0]!, streamId: 99 }, { payload: payload(99) }); // nobody asked
    for (const s of [held[2]!, held[0]!, held[1]!]) respond(s, { payload: payload(s.streamId) });
    assert.deepEqual(
      (await Promise.all(calls)).map((r) => r.taskPid),
      [1, 3, 5],
    );
    await conn.close();
  });

  it("rejects with the status's code and message, Internal for a malformed response", async () => {
    answer = (s) =>
      s.request.method === "Connect"
        ? respond(s, {
            status: { code: Code.FailedPrecondition, message: "task t is not running", details: [] },
          })
        : respond(s, new Uint8Array([0xff, 0xff]));
    const conn = await connectTtrpc(socket);
    const task = createTtrpcClient(Task, conn);
    await assert.rejects(task.connect({}), {
      code: Code.FailedPrecondition,
      rawMessage: "task t is not running",
    });
    await assert.rejects(task.state({}), { code: Code.Internal });
    await conn.close();
  });

  it("fails pending and later calls with Unavailable when the server closes the connection", async () => {
    answer = (s) => {
      if (s.request.method === "Shutdown") s.socket.destroy();
    };
    const conn = await connectTtrpc(socket);
    const task = createTtrpcClient(Task, conn);
    const pending = task.wait({ id: "x" });
    const shutdown = task.shutdown({});
    await assert.rejects(pending, { code: Code.Unavailable });
    await assert.rejects(shutdown, { code: Code.Unavailable });
    assert.ok(conn.isClosed);
    await assert.rejects(task.connect({}), { code: Code.Unavailable });
  });

  it("times out locally with DeadlineExceeded and cancels with Canceled", async () => {
    answer = () => {};
    const conn = await connectTtrpc(socket);
    const task = createTtrpcClient(Task, conn);
    await assert.rejects(task.wait({}, { timeoutMs: 10 }), { code: Code.DeadlineExceeded });
    const aborted = AbortSignal.abort();
    await assert.rejects(task.wait({}, { signal: aborted }), { code: Code.Canceled });
    await conn.close();
    await assert.rejects(connectTtrpc(socket, { signal: aborted }), { code: Code.Canceled });
  });
});
