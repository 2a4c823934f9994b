/**
 * Every zstd decoder this process has (zlib where Node has zstd, `zstd -d` where it is on PATH, fzstd always)
 * decodes the same layers and refuses the same hostile ones with the same words, leaving no `zstd` process
 * behind. The property tests of unpack.property.test.ts run the window and bomb cases on each decoder too.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import zlib from "node:zlib";
import { childrenOf } from "../../../test/harness/children.js";
import { until } from "../../../test/harness/task-kit.js";
import { Code, executableOnPath, ShimError } from "../../internal/index.js";
import { buildTar } from "../build/index.js";
import { unpackLayer } from "./unpack.js";
import { DEFAULT_UNPACK_LIMITS, InflationGuard } from "./unpack-limits.js";
import { availableZstdDecoders, defaultZstdDecoder, type ZstdDecoder } from "./zstd-decoders.js";
import { ZstdProcess } from "./zstd-process.js";

/** Small limits so a bomb is recognised in milliseconds; the logic is the same as with the defaults. */
const LIMITS = { maxBytes: 8 * 1024 * 1024, ratioFloorBytes: 64 * 1024, maxRatio: 100 };

let tmp: string;
let n = 0;
/** A tar of two files whose first 300 KiB do not compress, then text: a layer with every kind of block. */
let tarBytes: Buffer;
/** tarBytes as `zstd -3` writes it. */
let layer: Buffer;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-zstd-"));
  const noise = randomBytes(300 * 1024);
  tarBytes = buildTar([
    { path: "a.bin", type: "file", mode: 0o644, data: noise },
    { path: "b.txt", type: "file", mode: 0o644, data: Buffer.from("text of a layer ".repeat(20_000)) },
  ]);
  layer = zstdCli(tarBytes, "-3");
});
after(() => rm(tmp, { recursive: true, force: true }));

/** `bytes` compressed by the zstd CLI with `level` (and any further flags). */
function zstdCli(bytes: Buffer, ...flags: string[]): Buffer {
  return execFileSync("zstd", ["-q", "-c", ...flags], { input: bytes, maxBuffer: 64 << 20 });
}

/** Unpacks `bytes` (as `chunks` pieces) with `decoder` into a fresh rootfs; returns it, or the error. */
async function unpack(
  decoder: ZstdDecoder,
  bytes: Buffer,
  opts: { chunks?: number; signal?: AbortSignal; source?: Readable } = {},
): Promise<{ rootfs: string; error?: ShimError }> {
  const rootfs = join(tmp, String(++n));
  const k = opts.chunks ?? 1;
  const size = Math.ceil(bytes.length / k) || 1;
  const pieces = Array.from({ length: k }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
  const source = opts.source ?? Readable.from(pieces);
  try {
    await unpackLayer(source, "zstd", rootfs, {
      name: "layer sha256:zz",
      limits: LIMITS,
      zstd: decoder,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { rootfs };
  } catch (err) {
    assert.ok(err instanceof ShimError, String(err));
    return { rootfs, error: err };
  }
}

/** The refusal every hostile case must end in: InvalidArgument naming the layer and matching `why`. */
function assertRefused(error: ShimError | undefined, why: RegExp): void {
  assert.ok(error, "the layer was accepted");
  assert.equal(error.code, Code.InvalidArgument, error.message);
  assert.match(error.message, /layer sha256:zz/);
  assert.match(error.message, why);
}

/** No `zstd -d` (nor any other child) is left running or unreaped: every path kills and reaps its child. */
async function assertNoChildLeft(): Promise<void> {
  await until(() => childrenOf(process.pid).length === 0, 10_000, "the zstd children to be gone and reaped");
}

describe("zstd decoders", () => {
  it("the default is the fastest this machine has: zlib where Node has zstd, else zstd -d", () => {
    const names = availableZstdDecoders().map((d) => d.name);
    assert.equal(names.at(-1), "fzstd");
    assert.ok(executableOnPath("zstd"), "zstd is a test dependency (scripts/install-test-deps.sh)");
    const nodeHasZstd =
      typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === "function";
    assert.equal(defaultZstdDecoder().name, nodeHasZstd ? "zlib" : "zstd -d");
    assert.ok(names.includes("zstd -d"));
    // Node 22's zlib stops after the first of two frames given in one write: only it has writes split.
    const z = zlib as { zstdDecompressSync?: (b: Buffer) => Buffer };
    const twoFrames = Buffer.concat([zstdCli(Buffer.from("one ")), zstdCli(Buffer.from("two"))]);
    const stopsAtFrameEnd = z.zstdDecompressSync?.(twoFrames).toString() === "one ";
    assert.equal(defaultZstdDecoder().splitFrames === true, stopsAtFrameEnd);
  });

  it("zlib never ends a layer short: it decodes every frame of a write, or fails the layer", async (t) => {
    const native = availableZstdDecoders().find((d) => d.name === "zlib");
    if (!native) return t.skip("this Node has no zstd in zlib");
    // Two frames in one write, without the frame check that splits them: Node 24 decodes both, Node 22 stops
    // after the first (zstd-decoders.ts), and must then say so instead of ending the output there.
    const twoFrames = Buffer.concat([zstdCli(Buffer.from("one ")), zstdCli(Buffer.from("two"))]);
    const guard = new InflationGuard(DEFAULT_UNPACK_LIMITS, "layer sha256:zz", true);
    const out: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    });
    try {
      await pipeline([Readable.from([twoFrames]), ...native.stages(guard, "layer sha256:zz"), sink]);
      assert.equal(Buffer.concat(out).toString(), "one two");
    } catch (err) {
      assert.ok(err instanceof ShimError, String(err));
      assertRefused(err, /corrupt zstd data \(the decoder stopped after \d+ of \d+ bytes\)/);
    }
  });

  for (const decoder of availableZstdDecoders()) {
    describe(decoder.name, () => {
      it("unpacks a layer made by the zstd CLI, however its bytes are chunked, and with several frames", async () => {
        for (const chunks of [1, 7, 1000]) {
          const { rootfs, error } = await unpack(decoder, layer, { chunks });
          assert.equal(error, undefined);
          assert.equal(
            await readFile(join(rootfs, "b.txt"), "utf8"),
            "text of a layer ".repeat(20_000),
            `${chunks} chunks`,
          );
        }
        // Two frames (zstd -d concatenates them), a skippable frame between, checksums on.
        const half = tarBytes.length / 2;
        const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        const frames = Buffer.concat([
          zstdCli(tarBytes.subarray(0, half), "-1", "--check"),
          skippable,
          zstdCli(tarBytes.subarray(half), "-19", "--check"),
        ]);
        const { rootfs, error } = await unpack(decoder, frames, { chunks: 5 });
        assert.equal(error, undefined);
        assert.deepEqual(await readFile(join(rootfs, "a.bin")), tarBytes.subarray(512, 512 + 300 * 1024));
        await assertNoChildLeft();
      });

      it("refuses garbage, a corrupt block, trailing bytes, a truncated layer and an empty one", async () => {
        // The first block's type set to 3, which RFC 8878 reserves: a corrupt block every decoder must refuse.
        const corrupt = Buffer.from(layer);
        const d = corrupt[4]!;
        const fcs = d >> 6 ? 1 << (d >> 6) : (d >> 5) & 1;
        corrupt[4 + 1 + ((d >> 5) & 1 ? 0 : 1) + [0, 1, 2, 4][d & 3]! + fcs]! |= 0b110;
        const cases: [string, Buffer, RegExp][] = [
          ["garbage", Buffer.from("not compressed at all, no"), /corrupt zstd data/],
          ["corrupt block", corrupt, /corrupt zstd data/],
          [
            "trailing bytes",
            Buffer.concat([layer, Buffer.from("junk")]),
            /corrupt zstd data \(no zstd frame/,
          ],
          ["truncated", layer.subarray(0, layer.length - 1000), /corrupt zstd data .*truncated/],
          ["truncated header", layer.subarray(0, 5), /corrupt zstd data .*truncated/],
          ["empty", Buffer.alloc(0), /corrupt zstd data \(the layer is empty\)/],
        ];
        for (const [what, bytes, why] of cases) {
          const { error } = await unpack(decoder, bytes, { chunks: 3 });
          assertRefused(error, why);
          assert.ok(error!.message.includes("zstd"), `${what}: ${error!.message}`);
        }
        await assertNoChildLeft();
      });

      it("refuses a frame whose window is over the limit before decoding it", async () => {
        // zstd --long=31 writes a 2 GiB window into the header of a frame that needs one.
        const big = zstdCli(tarBytes, "-1", "--long=31");
        const { error } = await unpack(decoder, big, { chunks: 2 });
        assertRefused(error, /asks for a 2147483648-byte window, over the 134217728-byte limit/);
        await assertNoChildLeft();
      });

      it("refuses a decompression bomb made by the zstd CLI, and stops the decoder", async () => {
        const zeros = buildTar([
          { path: "z", type: "file", mode: 0o644, data: Buffer.alloc(LIMITS.maxBytes) },
        ]);
        const bomb = zstdCli(zeros, "-19");
        assert.ok(bomb.length * 1000 < zeros.length);
        const { error } = await unpack(decoder, bomb);
        assertRefused(error, /ratio above 100:1/);
        await assertNoChildLeft();
      });

      it("stops when the pull is aborted mid-layer, leaving no process behind", async () => {
        const controller = new AbortController();
        // Half the layer, then a source that never ends: only the abort can stop the unpack.
        const source = new Readable({ read() {} });
        source.push(layer.subarray(0, layer.length >> 1));
        const settled = unpack(decoder, layer, { source, signal: controller.signal });
        await until(() => source.readableLength === 0, 10_000, "the first half to be read");
        if (decoder.name === "zstd -d") {
          // One for the applier, one for the look-ahead scan (unpack-scan.ts): both must go.
          await until(() => childrenOf(process.pid).length === 2, 10_000, "both zstd -d to start");
        }
        controller.abort();
        const { error } = await settled;
        assert.equal(error?.code, Code.Canceled, error?.message);
        await assertNoChildLeft();
      });
    });
  }
});

describe("zstd -d as a child process", () => {
  it("says why when zstd cannot be run", async () => {
    const gone = join(tmp, "no-such-zstd");
    const decoder: ZstdDecoder = {
      name: "zstd -d",
      stages: (_guard, name) => [new ZstdProcess(gone, name)],
    };
    const { error } = await unpack(decoder, layer);
    assert.equal(error?.code, Code.FailedPrecondition, error?.message);
    assert.match(error!.message, /cannot run .*no-such-zstd/);
    await assertNoChildLeft();
  });
});
