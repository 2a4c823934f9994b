/**
 * The frame check passes a stream on unchanged; asked to split it, where frames end, however the bytes come in,
 * so a decoder is never given the end of one frame and the start of the next in one write (zstd-decoders.ts).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, it } from "node:test";
import { zstdFrameCheck } from "./zstd-frames.js";

function zstdCli(bytes: Buffer, ...flags: string[]): Buffer {
  return execFileSync("zstd", ["-q", "-c", ...flags], { input: bytes, maxBuffer: 64 << 20 });
}

/** The chunks the frame check passes on when given `bytes` in pieces of `size`. */
async function passedOn(bytes: Buffer, size: number, split: boolean): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  await pipeline(Readable.from(pieces), zstdFrameCheck("layer sha256:zz", split), sink);
  return out;
}

describe("zstd frame check", () => {
  it("splits the stream where each frame ends, and nowhere a piece did not already end", async () => {
    const frames = [
      zstdCli(randomBytes(200 * 1024), "-1", "--check"),
      // A skippable frame, then a frame with no content and no checksum (an empty last block).
      Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]),
      zstdCli(Buffer.alloc(0), "--no-check"),
      zstdCli(Buffer.from("text of a layer ".repeat(10_000)), "-19"),
    ];
    const stream = Buffer.concat(frames);
    const frameEnds = frames.map((_, i) => Buffer.concat(frames.slice(0, i + 1)).length);
    for (const size of [1, 7, 4096, 100_000, stream.length]) {
      const out = await passedOn(stream, size, true);
      assert.deepEqual(Buffer.concat(out), stream, `pieces of ${size}`);
      let at = 0;
      for (const chunk of out) {
        const end = at + chunk.length;
        const inside = frameEnds.find((e) => e > at && e < end);
        assert.equal(
          inside,
          undefined,
          `pieces of ${size}: a chunk [${at}, ${end}) spans the frame end ${inside}`,
        );
        at = end;
      }
      // A piece is split only at frame ends: one more chunk than pieces per frame end at most.
      assert.ok(out.length <= Math.ceil(stream.length / size) + frameEnds.length, `pieces of ${size}`);
      // Not asked to split, it passes each piece on whole.
      assert.equal((await passedOn(stream, size, false)).length, Math.ceil(stream.length / size));
    }
  });
});
