/**
 * The ways this process can decode zstd, fastest first, and the one a pull uses (issue 12: a 50 MiB layer
 * within 2x of `zstd -d`):
 *
 * 1. `zlib`: `zlib.createZstdDecompress`, zstd's own library inside Node (22.15 and later), told the same
 *    window limit (`ZSTD_d_windowLogMax`). Node 22's ends its output at the end of a frame that shares a write
 *    with the next; the frame check gives it one frame per write, and a stream it did not read to the end fails.
 * 2. `zstd -d`: the system's reference decoder in a child process (zstd-process.ts), when `zstd` is on PATH.
 * 3. `fzstd`: pure JavaScript, always there, 5 to 10 times slower than the two above.
 *
 * Each is placed behind the same frame check (zstd-frames.ts) and reports to the same InflationGuard, so a
 * layer is refused alike whichever decodes it. A WebAssembly build of zstd was measured against `zstd -d` and
 * is not offered (see `npm run bench -- zstd`); what Node 20 lacks, the system binary gives at native speed.
 */
import { type Duplex, Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";
import { Decompress } from "fzstd";
import { executableOnPath, invalidArgument, ShimError } from "../../internal/index.js";
import { counter } from "./counter.js";
import type { InflationGuard } from "./unpack-limits.js";
import { MAX_ZSTD_WINDOW } from "./zstd-frames.js";
import { ZstdProcess } from "./zstd-process.js";

/** One way to decode zstd: the stages that turn frame-checked zstd bytes into what they hold. */
export interface ZstdDecoder {
  readonly name: "zlib" | "zstd -d" | "fzstd";
  /** Whether each write it is given must end no frame but at its end (Node 22's zlib; see TWO_FRAMES). */
  readonly splitFrames?: boolean;
  /** Fresh stages for one layer; they report every byte in and out to `guard`. */
  stages(guard: InflationGuard, layer: string): Duplex[];
}

/** The decoders this process has, fastest first (probed once; fzstd is always last). */
export function availableZstdDecoders(): readonly ZstdDecoder[] {
  if (available === undefined) {
    const native = nativeZstd();
    const binary = executableOnPath("zstd");
    available = [
      ...(native ? [zlibDecoder(native)] : []),
      ...(binary ? [processDecoder(binary)] : []),
      fzstdDecoder,
    ];
  }
  return available;
}

let available: readonly ZstdDecoder[] | undefined;

/** The decoder a pull uses: the fastest available. */
export function defaultZstdDecoder(): ZstdDecoder {
  return availableZstdDecoders()[0]!;
}

/**
 * Output chunk size of zlib's decoders (gunzip, and zstd here). Each chunk is one trip to zlib's thread and
 * back: 1 MiB makes a 64 MiB layer 64 trips instead of 512, which costs a third less CPU than 128 KiB (and the
 * store writes in 1 MiB batches).
 */
export const ZLIB_CHUNK = 1024 * 1024;

type CreateZstdDecompress = (opts: {
  chunkSize: number;
  params: Record<number, number>;
}) => Transform & { bytesWritten: number };

/**
 * Two zstd frames of one raw block each, holding "a" and "b". A stream may hold several frames (RFC 8878
 * section 3.1: pzstd writes them, zstd:chunked layers are made of them). Node 24's zlib decodes this to "ab";
 * Node 22's (seen on 22.23) to "a", silently: its zlib.js ends the output when the decoder stops with input
 * left, which zstd does at the end of each frame. Given writes that end no frame but at their end, it decodes
 * them all: both are used, Node 22's with `splitFrames`.
 */
const TWO_FRAMES = Buffer.from([
  ...[0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x01, 0x09, 0x00, 0x00, 0x61],
  ...[0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x01, 0x09, 0x00, 0x00, 0x62],
]);

/**
 * `zlib.createZstdDecompress` and its window parameter, where this Node has them and decodes zstd as Node 22 or
 * 24 do (feature detection, not version strings).
 */
function nativeZstd(): Native | undefined {
  const z = zlib as unknown as {
    createZstdDecompress?: CreateZstdDecompress;
    zstdDecompressSync?: (b: Buffer) => Buffer;
  };
  const windowLogMax = (zlib.constants as Record<string, number | undefined>).ZSTD_d_windowLogMax;
  if (typeof z.createZstdDecompress !== "function" || windowLogMax === undefined) return undefined;
  let decoded: string | undefined;
  try {
    decoded = z.zstdDecompressSync?.(TWO_FRAMES).toString("latin1");
  } catch {
    return undefined;
  }
  if (decoded !== "ab" && decoded !== "a") return undefined;
  return { create: z.createZstdDecompress.bind(zlib), windowLogMax, splitFrames: decoded === "a" };
}

interface Native {
  create: CreateZstdDecompress;
  windowLogMax: number;
  /** Whether it stops at the end of a frame that shares a write with the next. */
  splitFrames: boolean;
}

/**
 * zlib bounds each output chunk and honours backpressure, so counting after it stops a bomb within a chunk.
 * When its output ends, it must have read every byte it was given (`bytesWritten`): a zlib that stopped early
 * (see TWO_FRAMES) fails the layer instead of cutting it short. Its own errors (`ZSTD_error_*` codes) are left
 * for the caller to word, as for gunzip.
 */
function zlibDecoder(native: Native): ZstdDecoder {
  return {
    name: "zlib",
    splitFrames: native.splitFrames,
    stages: (guard, layer) => {
      const decoder = native.create({
        chunkSize: ZLIB_CHUNK,
        params: { [native.windowLogMax]: Math.log2(MAX_ZSTD_WINDOW) },
      });
      const readAll = () => {
        if (decoder.bytesWritten === guard.compressed) return;
        throw invalidArgument(
          `${layer}: corrupt zstd data (the decoder stopped after ${decoder.bytesWritten} of ` +
            `${guard.compressed} bytes); pull it again`,
        );
      };
      return [counter((n) => guard.input(n)), decoder, counter((n) => guard.output(n), readAll)];
    },
  };
}

/** The child's stdout is read only as fast as the stages after it take bytes, so counting after it is enough. */
function processDecoder(binary: string): ZstdDecoder {
  return {
    name: "zstd -d",
    stages: (guard, layer) => [
      counter((n) => guard.input(n)),
      new ZstdProcess(binary, layer),
      counter((n) => guard.output(n)),
    ],
  };
}

/** Compressed input is fed to fzstd in slices so one network chunk of RLE blocks cannot expand unchecked. */
const FZSTD_SLICE = 16 * 1024;

const fzstdDecoder: ZstdDecoder = { name: "fzstd", stages: (guard, layer) => [fzstd(guard, layer)] };

/** fzstd calls back once per decompressed block (at most 128 KiB), synchronously within `push`. */
function fzstd(guard: InflationGuard, layer: string): Transform {
  const out: Buffer[] = [];
  const d = new Decompress((data) => {
    guard.output(data.length);
    // fzstd reuses its window buffer: copy before handing the bytes on.
    if (data.length) out.push(Buffer.from(data));
  });
  const feed = (t: Transform, chunk: Uint8Array, final: boolean, cb: TransformCallback) => {
    try {
      if (final) d.push(new Uint8Array(0), true);
      for (let i = 0; i < chunk.length; i += FZSTD_SLICE) {
        const slice = chunk.subarray(i, i + FZSTD_SLICE);
        guard.input(slice.length);
        d.push(slice);
        for (const b of out.splice(0)) t.push(b);
      }
      for (const b of out.splice(0)) t.push(b);
      cb();
    } catch (err) {
      cb(
        err instanceof ShimError
          ? err
          : invalidArgument(`${layer}: corrupt zstd data (${err instanceof Error ? err.message : err})`),
      );
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      feed(this, chunk, false, cb);
    },
    flush(cb) {
      feed(this, new Uint8Array(0), true, cb);
    },
  });
}
