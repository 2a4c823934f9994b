/**
 * Packs a tar layer in one pass over its bytes: the archive's chunks (build-tar.ts `tarChunks`, which copy no
 * file content) are hashed for the config's `diff_ids`, gzipped on libuv's thread pool (node:zlib's streams),
 * and the compressed bytes hashed for the layer's digest as they come out, so the main thread hashes while
 * zlib compresses and nothing is read, copied or hashed twice. The gzip bytes are those of `gzipSync(tar)`
 * (default level 6, zlib's defaults, no timestamp): deflate's output does not depend on how its input is
 * fed, so a layer packed here has the digest the synchronous builder gives it.
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
 * Pieces fed to zlib at a time, and zlib's output chunk size: large enough that per-chunk overhead (a thread
 * pool round trip each) is noise, small enough that hashing a piece overlaps with compressing the next.
 */
const PIECE = 1 << 20;

/** Gzips the tar made of `chunks`, hashing both sides in the same pass. */
export async function packTarLayer(chunks: readonly Buffer[]): Promise<PackedLayer> {
  const tar = new DigestStream();
  const gz = new DigestStream();
  const out: Buffer[] = [];
  await pipeline(
    tarPieces(chunks),
    tar,
    createGzip({ chunkSize: PIECE }),
    gz,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return {
    data: Buffer.concat(out, gz.bytes),
    digest: gz.digest(),
    diffId: tar.digest(),
  };
}

/** `chunks` cut into pieces of at most PIECE bytes (views, not copies), as they are fed to zlib. */
export function* tarPieces(chunks: readonly Buffer[]): Generator<Buffer> {
  for (const c of chunks) for (let at = 0; at < c.length; at += PIECE) yield c.subarray(at, at + PIECE);
}
