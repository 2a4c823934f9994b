/**
 * Packs a tar layer in one pass over its bytes: the archive's chunks (build-tar.ts `tarChunks`, which copy no
 * file content) are hashed for the config's `diff_ids`, gzipped on libuv's thread pool (node:zlib's streams),
 * and the compressed bytes hashed for the layer's digest as they come out, so the main thread hashes while
 * zlib compresses and nothing is read, copied or hashed twice. The gzip bytes are those of `gzipSync(tar)`
 * (default level 6, zlib's defaults, no timestamp): deflate's output does not depend on how its input is
 * fed, so a layer packed here has the digest the synchronous builder gives it.
 *
 * zlib writes its output into one buffer sized for the worst case, so the blob is a view of what zlib wrote
 * rather than a join of pieces: a join touches as many fresh pages again, and a fresh page is dear (on the
 * benchmark's VM, writing 50 MiB of new memory costs about 200 ms, twenty times writing it again). Only the
 * pages written are taken from the system; the rest of the reservation costs address space alone.
 */
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { type Digest, DigestStream } from "../../internal/index.js";

/** A packed layer: its blob and digest, and the digest of the tar inside it (`diff_id`). */
export interface PackedLayer {
  data: Buffer;
  digest: Digest;
  diffId: Digest;
}

/**
 * Pieces fed to zlib at a time: large enough that per-piece overhead (a thread pool round trip each) is noise,
 * small enough that hashing a piece overlaps with compressing the next.
 */
const PIECE = 1 << 20;

/**
 * zlib's output buffer: the most gzip can make of `n` bytes (zlib's `deflateBound`: stored blocks add 5 bytes per
 * 16 KiB at worst; with room to spare, and the gzip header and trailer), at most 1 GiB (the largest module V8
 * compiles): a larger layer, made so by `--file`s, is gzipped into several buffers and joined, rather than
 * reserving more address space than the machine may grant at once.
 */
function outputSize(n: number): number {
  return Math.min(n + (n >> 10) + 1024, 1024 ** 3);
}

/** Gzips the tar made of `chunks`, hashing both sides in the same pass. */
export async function packTarLayer(chunks: readonly Buffer[]): Promise<PackedLayer> {
  const tar = new DigestStream();
  const gz = new DigestStream();
  const out: Buffer[] = [];
  const size = chunks.reduce((n, c) => n + c.length, 0);
  await pipeline(
    tarPieces(chunks),
    tar,
    createGzip({ chunkSize: outputSize(size) }),
    gz,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return { data: joined(out, gz.bytes), digest: gz.digest(), diffId: tar.digest() };
}

/** `parts` as one buffer: a view when they lie end to end in one allocation (zlib's), else a copy. */
export function joined(parts: readonly Buffer[], total: number): Buffer {
  const first = parts[0];
  let at = first?.byteOffset ?? 0;
  for (const p of parts) {
    if (p.buffer !== first!.buffer || p.byteOffset !== at) return Buffer.concat(parts, total);
    at += p.length;
  }
  return first ? Buffer.from(first.buffer, first.byteOffset, total) : Buffer.alloc(0);
}

/** `chunks` cut into pieces of at most PIECE bytes (views, not copies), as they are fed to zlib. */
export function* tarPieces(chunks: readonly Buffer[]): Generator<Buffer> {
  for (const c of chunks) for (let at = 0; at < c.length; at += PIECE) yield c.subarray(at, at + PIECE);
}
