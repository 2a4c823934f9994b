import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Code } from "../internal/index.js";
import {
  type DecodedFrame,
  decodeHeader,
  encodeFrame,
  FrameDecoder,
  HEADER_LENGTH,
  MESSAGE_LENGTH_MAX,
  MessageType,
} from "./ttrpc-frame.js";

interface Spec {
  streamId: number;
  type: number;
  flags: number;
  payload: Uint8Array;
}

/** Decodes `bytes` fed in chunks cut at `cuts` (offsets, any order). */
function decodeSplit(bytes: Buffer, cuts: number[], max?: number): DecodedFrame[] {
  const decoder = new FrameDecoder(max);
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: DecodedFrame[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    out.push(...decoder.push(bytes.subarray(at, p)));
    at = p;
  }
  assert.equal(decoder.pending, 0);
  return out;
}

const frameSpec = fc.record({
  streamId: fc.nat({ max: 0xffff_ffff }),
  type: fc.nat({ max: 255 }),
  flags: fc.nat({ max: 255 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

describe("ttrpc frames", () => {
  it("writes the 10-byte big-endian header of channel.go", () => {
    const frame = encodeFrame(0x01020304, MessageType.Response, 0x05, new Uint8Array([9, 8, 7]));
    assert.deepEqual([...frame], [0, 0, 0, 3, 1, 2, 3, 4, 2, 5, 9, 8, 7]);
    assert.deepEqual(decodeHeader(frame), { length: 3, streamId: 0x01020304, type: 2, flags: 5 });
    assert.equal(MESSAGE_LENGTH_MAX, 4 * 1024 * 1024);
  });

  it("refuses to encode a payload over the cap with ResourceExhausted", () => {
    assert.throws(() => encodeFrame(1, 1, 0, new Uint8Array(11), 10), { code: Code.ResourceExhausted });
    assert.equal(encodeFrame(1, 1, 0, new Uint8Array(10), 10).length, HEADER_LENGTH + 10);
  });

  it("decodes any sequence of frames, however the stream is split or coalesced", () => {
    fc.assert(
      fc.property(
        fc.array(frameSpec, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (specs, cuts) => {
          const bytes = Buffer.concat(specs.map((s) => encodeFrame(s.streamId, s.type, s.flags, s.payload)));
          const frames = decodeSplit(bytes, cuts);
          assert.deepEqual(
            frames.map((f) => (f.kind === "frame" ? { ...f.header, payload: [...f.payload] } : f)),
            specs.map((s) => ({ ...s, length: s.payload.length, payload: [...s.payload] })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("skips an oversized frame's data and reports its header, then carries on", () => {
    const max = 64;
    const big = fc.record({ streamId: fc.nat({ max: 1000 }), size: fc.integer({ min: max + 1, max: 500 }) });
    const item = fc.oneof(
      frameSpec.map(
        (s) => ({ ...s, payload: s.payload.subarray(0, max) }) as Spec | { big: number; streamId: number },
      ),
      big.map((b) => ({ big: b.size, streamId: b.streamId })),
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 40 }), (items, cuts) => {
        const bytes = Buffer.concat(
          items.map((i) => {
            if (!("big" in i)) return encodeFrame(i.streamId, i.type, i.flags, i.payload);
            const header = Buffer.alloc(HEADER_LENGTH);
            header.writeUInt32BE(i.big, 0);
            header.writeUInt32BE(i.streamId, 4);
            header[8] = MessageType.Request;
            return Buffer.concat([header, Buffer.alloc(i.big, 0xab)]);
          }),
        );
        const frames = decodeSplit(bytes, cuts, max);
        assert.equal(frames.length, items.length);
        frames.forEach((f, n) => {
          const i = items[n]!;
          assert.equal(f.kind, "big" in i ? "oversized" : "frame");
          assert.equal(f.header.streamId, i.streamId);
          if (f.kind === "frame" && !("big" in i)) assert.deepEqual([...f.payload], [...i.payload]);
        });
      }),
      { numRuns: 200 },
    );
  });

  it("holds a truncated frame as pending", () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame(1, 1, 0, new Uint8Array(20));
    assert.deepEqual(decoder.push(frame.subarray(0, 4)), []);
    assert.equal(decoder.pending, 4);
    assert.deepEqual(decoder.push(frame.subarray(4, 15)), []);
    assert.equal(decoder.pending, 15);
    assert.equal(decoder.push(frame.subarray(15)).length, 1);
    assert.equal(decoder.pending, 0);
  });
});
