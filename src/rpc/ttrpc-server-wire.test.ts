/**
 * The ttrpc server against a raw peer: stream id rules, malformed and oversized frames, deadlines, and random
 * bytes, checked frame by frame against containerd/ttrpc server.go's answers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { RawPeer, startTtrpcFixture, type TtrpcFixture } from "../../test/harness/index.js";
import { ConnectRequestSchema, ConnectResponseSchema, Task, ttrpc } from "../gen/index.js";
import { Code } from "../internal/index.js";
import { connectTtrpc, createTtrpcClient } from "./ttrpc-client.js";
import { encodeFrame, HEADER_LENGTH, MESSAGE_LENGTH_MAX, MessageType } from "./ttrpc-frame.js";

const V2 = "containerd.task.v2.Task";
const connectPayload = toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { id: "x" }));

describe("ttrpc server on the wire", () => {
  let fixture: TtrpcFixture;
  before(async () => {
    fixture = await startTtrpcFixture();
  });
  after(() => fixture.close());

  /** A fresh client on a fresh connection still gets answers: the server survived. */
  async function serverStillAnswers(): Promise<void> {
    const conn = await connectTtrpc(fixture.socket);
    try {
      assert.equal((await createTtrpcClient(Task, conn).connect({ id: "x" })).shimPid, process.pid);
    } finally {
      await conn.close();
    }
  }

  it("answers a unary request with status OK and the payload on the request's stream id", async () => {
    const peer = await RawPeer.open(fixture.socket);
    peer.request(7, V2, "Connect", connectPayload);
    const [res] = await peer.until(1);
    assert.equal(res!.streamId, 7);
    assert.equal(res!.type, MessageType.Response);
    assert.equal(res!.code, Code.OK);
    assert.equal(fromBinary(ConnectResponseSchema, res!.payload).shimPid, process.pid);
    peer.close();
  });

  it("refuses even and non-increasing stream ids with InvalidArgument, and keeps the connection", async () => {
    const peer = await RawPeer.open(fixture.socket);
    peer.request(2, V2, "Connect", connectPayload);
    peer.request(5, V2, "Connect", connectPayload);
    peer.request(5, V2, "Connect", connectPayload);
    peer.request(3, V2, "Connect", connectPayload);
    peer.request(9, V2, "Connect", connectPayload);
    const got = await peer.until(5);
    const by = (id: number) => got.filter((r) => r.streamId === id).map((r) => [r.code, r.message]);
    assert.deepEqual(by(2), [[Code.InvalidArgument, "StreamID must be odd for client initiated streams"]]);
    assert.deepEqual(by(3), [[Code.InvalidArgument, "StreamID cannot be re-used and must increment"]]);
    assert.deepEqual(
      by(5).sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        [Code.OK, ""],
        [Code.InvalidArgument, "StreamID cannot be re-used and must increment"],
      ],
    );
    assert.deepEqual(by(9), [[Code.OK, ""]]);
    peer.close();
  });

  it("ignores unknown types and client Responses, refuses Data on an idle stream, rejects bad Request bytes", async () => {
    const peer = await RawPeer.open(fixture.socket);
    peer.write(encodeFrame(1, 0x7f, 0, new Uint8Array([1, 2, 3])));
    peer.write(encodeFrame(3, MessageType.Response, 0));
    peer.write(encodeFrame(5, MessageType.Data, 0, new Uint8Array([1])));
    peer.write(encodeFrame(7, MessageType.Request, 0, new Uint8Array([0xff, 0xff, 0xff])));
    const bad = create(ttrpc.RequestSchema, {
      service: V2,
      method: "Connect",
      payload: new Uint8Array([0x0a, 0x09]),
    });
    peer.write(encodeFrame(9, MessageType.Request, 0, toBinary(ttrpc.RequestSchema, bad)));
    peer.request(11, V2, "Connect", connectPayload);
    const got = await peer.until(4);
    assert.deepEqual(
      got.map((r) => [r.streamId, r.code]),
      [
        [5, Code.InvalidArgument],
        [7, Code.InvalidArgument],
        [9, Code.Internal],
        [11, Code.OK],
      ],
    );
    assert.match(got[1]!.message, /^unmarshal request error/);
    assert.match(got[2]!.message, /^ttrpc: error unmarshalling payload/);
    peer.close();
  });

  it("answers an oversized request with ResourceExhausted once its data is discarded; the connection lives on", async () => {
    const peer = await RawPeer.open(fixture.socket);
    const huge = create(ttrpc.RequestSchema, {
      service: V2,
      method: "Connect",
      payload: new Uint8Array(MESSAGE_LENGTH_MAX),
    });
    const bytes = toBinary(ttrpc.RequestSchema, huge);
    const header = Buffer.alloc(HEADER_LENGTH);
    header.writeUInt32BE(bytes.length, 0);
    header.writeUInt32BE(1, 4);
    header[8] = MessageType.Request;
    peer.write(header);
    peer.write(bytes);
    peer.request(3, V2, "Connect", connectPayload);
    const got = await peer.until(2);
    assert.deepEqual(got[0], {
      streamId: 1,
      type: MessageType.Response,
      code: Code.ResourceExhausted,
      message: `message length ${bytes.length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
      payload: new Uint8Array(0),
    });
    assert.deepEqual([got[1]!.streamId, got[1]!.code], [3, Code.OK]);
    peer.close();
    // And through the client, which refuses to send it at all.
    const conn = await connectTtrpc(fixture.socket);
    await assert.rejects(conn.call(V2, "Connect", new Uint8Array(MESSAGE_LENGTH_MAX)), {
      code: Code.ResourceExhausted,
    });
    await conn.close();
  });

  it("aborts at timeout_nano and answers DeadlineExceeded itself", async () => {
    const client = await connectTtrpc(fixture.socket);
    await createTtrpcClient(Task, client).create({ id: "slow" });
    await client.close();
    const peer = await RawPeer.open(fixture.socket);
    const wait = create(ttrpc.RequestSchema, {
      service: V2,
      method: "Wait",
      payload: toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { id: "slow" })),
      timeoutNano: 20_000_000n,
    });
    const started = Date.now();
    peer.write(encodeFrame(1, MessageType.Request, 0, toBinary(ttrpc.RequestSchema, wait)));
    const [res] = await peer.until(1);
    assert.equal(res!.code, Code.DeadlineExceeded);
    assert.ok(Date.now() - started >= 15);
    peer.close();
  });

  it("closes a connection that ends mid-frame and keeps serving others", async () => {
    const peer = await RawPeer.open(fixture.socket);
    const frame = encodeFrame(1, MessageType.Request, 0, new Uint8Array(100));
    peer.write(frame.subarray(0, 37));
    peer.socket.end();
    await peer.closed;
    await serverStillAnswers();
  });

  it("survives random bytes and truncated or corrupted frames (property)", async () => {
    const valid = (id: number) =>
      encodeFrame(
        id,
        MessageType.Request,
        0,
        toBinary(
          ttrpc.RequestSchema,
          create(ttrpc.RequestSchema, {
            service: V2,
            method: "Connect",
            payload: connectPayload,
          }),
        ),
      );
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.tuple(fc.nat({ max: 40 }), fc.nat()).map(([id, cut]) => {
        const f = valid(id);
        return f.subarray(0, cut % f.length);
      }),
      fc.tuple(fc.nat({ max: 40 }), fc.nat(), fc.nat({ max: 255 })).map(([id, at, byte]) => {
        const f = Buffer.from(valid(id));
        f[at % f.length] = byte;
        return f;
      }),
      fc
        .tuple(fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 50 }))
        .map(([id, type, data]) => encodeFrame(id, type, 0, data)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(garbage, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (chunks, endEarly) => {
          const peer = await RawPeer.open(fixture.socket);
          for (const c of chunks) peer.write(c);
          if (endEarly) peer.socket.end();
          else await new Promise((r) => setTimeout(r, 2));
          peer.close();
          await peer.closed;
        },
      ),
      { numRuns: 150 },
    );
    await serverStillAnswers();
    assert.deepEqual(fixture.errors, []);
  });
});
