/**
 * A hostile ttrpc peer (issue 6 item 3), frame-aligned this time, so the connection outlives the garbage:
 * whole frames of any type, stream id and flags, carrying random bytes, cut or unknown-method Requests,
 * hostile metadata keys and deadlines, and headers announcing up to 4 GiB. After them a valid call on the
 * same connection is still answered, every answer is on a stream the peer used and carries a status the
 * protocol defines for it, and the server logs no internal error.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { RawPeer, startTtrpcFixture, type TtrpcFixture } from "../../test/harness/index.js";
import { checkProperty } from "../../test/harness/property.js";
import { ConnectRequestSchema, ConnectResponseSchema, ttrpc } from "../gen/index.js";
import { Code } from "../internal/index.js";
import { encodeFrame, HEADER_LENGTH, MessageType } from "./ttrpc-frame.js";

const V2 = "containerd.task.v2.Task";
const connectPayload = toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { id: "x" }));

/** Metadata keys that are also names of Object.prototype's members. */
const keyArb = fc.constantFrom(
  "x-test",
  "X-Test",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "",
);

const requestBytes = fc
  .record({
    service: fc.constantFrom(V2, "containerd.task.v3.Task", "nope.Service", "", "__proto__"),
    method: fc.constantFrom("Connect", "Create", "Nope", "", "__proto__", "constructor"),
    payload: fc.oneof(fc.constant(connectPayload), fc.uint8Array({ maxLength: 30 })),
    timeoutNano: fc.oneof(
      fc.constant(0n),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.bigInt({ min: 1n, max: 5_000_000n }),
    ),
    metadata: fc.array(fc.record({ key: keyArb, value: fc.string({ maxLength: 5 }) }), { maxLength: 4 }),
  })
  .map((r) => toBinary(ttrpc.RequestSchema, create(ttrpc.RequestSchema, r)));

/** One whole frame; `streamId` is relative and made absolute (and odd or even) by the caller. */
interface HostileFrame {
  streamId: number;
  type: number;
  flags: number;
  payload: Uint8Array;
  /** Announce this length instead and send `payload.length` bytes of it... all of it: an oversized frame. */
  oversized?: number;
}

const frameArb: fc.Arbitrary<HostileFrame> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      streamId: fc.nat(50),
      type: fc.constant(MessageType.Request),
      flags: fc.nat(255),
      payload: fc.oneof(
        requestBytes,
        requestBytes.chain((b) => fc.nat(b.length).map((cut) => b.subarray(0, cut))),
        fc.uint8Array({ maxLength: 40 }),
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      streamId: fc.nat(50),
      type: fc.nat(255),
      flags: fc.nat(255),
      payload: fc.uint8Array({ maxLength: 40 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        streamId: fc.nat(50),
        type: fc.constant(MessageType.Request),
        flags: fc.constant(0),
        payload: fc.constant(new Uint8Array(0)),
        oversized: fc.constantFrom(4 * 1024 * 1024 + 1),
      },
      { requiredKeys: ["streamId", "type", "flags", "payload", "oversized"] },
    ),
  },
);

function bytesOf(f: HostileFrame): Uint8Array[] {
  if (f.oversized === undefined) return [encodeFrame(f.streamId, f.type, f.flags, f.payload)];
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt32BE(f.oversized, 0);
  header.writeUInt32BE(f.streamId, 4);
  header[8] = f.type;
  return [header, Buffer.alloc(f.oversized)];
}

describe("ttrpc server against a hostile frame-aligned peer (property)", () => {
  let fixture: TtrpcFixture;
  before(async () => {
    fixture = await startTtrpcFixture();
  });
  after(() => fixture.close());

  it("answers each hostile frame with a defined refusal or not at all, and the next valid call with OK", async () => {
    await checkProperty(
      fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 8 }), async (frames) => {
        fixture.errors.length = 0;
        const peer = await RawPeer.open(fixture.socket);
        try {
          const sent = new Set<number>();
          for (const f of frames) {
            sent.add(f.streamId);
            for (const b of bytesOf(f)) peer.write(b);
          }
          const last = 101; // above every hostile id, odd
          peer.request(last, V2, "Connect", connectPayload);
          const deadline = Date.now() + 5000;
          while (!peer.responses.some((r) => r.streamId === last)) {
            assert.ok(
              Date.now() < deadline,
              `no answer to the valid call: ${JSON.stringify(peer.responses)}`,
            );
            await new Promise((r) => setTimeout(r, 5));
          }
          for (const r of peer.responses) {
            assert.equal(r.type, MessageType.Response);
            if (r.streamId === last) {
              assert.equal(r.code, Code.OK, r.message);
              assert.equal(fromBinary(ConnectResponseSchema, r.payload).shimPid, process.pid);
              continue;
            }
            assert.ok(sent.has(r.streamId), `answer on stream ${r.streamId}, which the peer never used`);
            // The refusals of ttrpc server.go, or what the fake service itself answered; never Unknown.
            assert.ok(
              r.code in Code && r.code !== Code.Unknown,
              `stream ${r.streamId}: ${r.code} ${r.message}`,
            );
            assert.ok(r.code === Code.OK || r.message.length > 0, `stream ${r.streamId}: no message`);
          }
          assert.deepEqual(fixture.errors, [], "the server logged an internal error");
        } finally {
          peer.close();
          await peer.closed;
        }
      }),
      150,
    );
  });

  it("regression: metadata keys named like Object.prototype members reach the handler as plain data", async () => {
    fixture.errors.length = 0;
    const peer = await RawPeer.open(fixture.socket);
    const req = create(ttrpc.RequestSchema, {
      service: V2,
      method: "Connect",
      payload: connectPayload,
      metadata: [
        { key: "__proto__", value: "a" },
        { key: "constructor", value: "b" },
        { key: "X-Test", value: "c" },
        { key: "x-test", value: "d" },
      ],
    });
    peer.write(encodeFrame(1, MessageType.Request, 0, toBinary(ttrpc.RequestSchema, req)));
    const [res] = await peer.until(1);
    peer.close();
    assert.equal(res!.code, Code.OK, res!.message);
    assert.equal(fromBinary(ConnectResponseSchema, res!.payload).version, "c,d");
    assert.deepEqual(fixture.errors, []);
  });
});
