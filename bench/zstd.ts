/**
 * `npm run bench -- zstd [--runs N]`: decompressing a zstd layer of 50 MiB, the way a pull does it (the
 * decompression stage of oci/unpack, with its window and inflation guards, in this process) against the
 * reference decoder (`zstd -d -c`, output discarded), alternating. Issue 12 measured 9.7x; the goal is <= 2.0.
 * Which decoder the pull uses depends on the Node and the machine (oci/unpack/zstd-decoders.ts); it is printed.
 *
 * Each 4 KiB of content is 1.25 KiB of random bytes and then text of words chosen at random, so the layer
 * compresses to about 23 MiB (`zstd -3`; the layer: 19 MiB), with every kind of block to decode.
 *
 * `zstd -d` is started from a helper process (CommandTimer), not from this one: a spawn forks the process that
 * makes it, and the decode that followed would pay for that fork (measure.ts), as no pull does. One untimed
 * decode comes first, as the first in a process takes several times as long (fresh memory to fault in, code
 * not yet compiled) and would weigh on a median of a few runs; a daemon that pulls is past it.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { decompressionStages } from "../src/oci/unpack/decompress.js";
import { DEFAULT_UNPACK_LIMITS, InflationGuard } from "../src/oci/unpack/unpack-limits.js";
import { defaultZstdDecoder } from "../src/oci/unpack/zstd-decoders.js";
import { CommandTimer, compare } from "./measure.js";

const SIZE = 50 * 1024 * 1024;
const BLOCK = 4096;
/** Bytes of each block that are random (incompressible); the rest is text of words chosen at random. */
const RANDOM = 1280;
const WORDS = (
  "module memory table global export import func param result local call block loop branch wasm wasi " +
  "preview component interface world resource stream future fd path clock random socket poll args environ"
).split(" ");

/** SIZE bytes in blocks of RANDOM random bytes and then text: literals, matches and entropy coding to decode. */
function content(): Buffer {
  const out = Buffer.alloc(SIZE);
  const picks = randomBytes(SIZE / 4);
  let p = 0;
  for (let at = 0; at < SIZE; at += BLOCK) {
    randomBytes(RANDOM).copy(out, at);
    let i = at + RANDOM;
    while (i < at + BLOCK) {
      const word = WORDS[picks[p++ % picks.length]! % WORDS.length]!;
      i += out.write(`${word} `, i, Math.min(word.length + 1, at + BLOCK - i));
    }
  }
  return out;
}

/** Decompresses `file` through the pull's zstd stage into a sink that discards; resolves with the wall ms. */
async function nodewasiDecompress(file: string): Promise<number> {
  const start = process.hrtime.bigint();
  const guard = new InflationGuard(DEFAULT_UNPACK_LIMITS, "bench layer", true);
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  });
  await pipeline([
    createReadStream(file, { highWaterMark: 1024 * 1024 }),
    ...decompressionStages("zstd", guard, "bench layer"),
    sink,
  ]);
  if (bytes !== SIZE) throw new Error(`decompressed ${bytes} bytes, expected ${SIZE}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function benchZstd(runs: number): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "nodewasi-bench-zstd-"));
  const timer = new CommandTimer();
  try {
    const raw = join(work, "layer.tar");
    const zst = join(work, "layer.tar.zst");
    await writeFile(raw, content());
    await timer.time("zstd", ["-q", "-3", "-f", raw, "-o", zst]);
    const { size } = statSync(zst);
    process.stdout.write(
      `layer: ${SIZE / 1024 / 1024} MiB, ${(size / 1024 / 1024).toFixed(1)} MiB as zstd -3; ` +
        `nodewasi decodes it with ${defaultZstdDecoder().name} (Node ${process.versions.node})\n`,
    );
    await nodewasiDecompress(zst);
    await compare(
      `zstd layer of ${SIZE / 1024 / 1024} MiB: nodewasi's decompression stage (in process) against zstd -d`,
      runs,
      { name: "nodewasi", run: () => nodewasiDecompress(zst) },
      { name: "zstd -d", run: () => timer.time("sh", ["-c", `zstd -d -q -c "${zst}" > /dev/null`]) },
    );
  } finally {
    timer.close();
    await rm(work, { recursive: true, force: true });
  }
}
