/**
 * Decompression of tar layers: gzip by node:zlib, zstd by the `fzstd` package. Node 20 has no zstd in zlib
 * (it arrived, experimental, in Node 22.15/23.8), and the native zstd bindings on npm need an install script
 * and a compiler; fzstd is pure JavaScript, has no dependencies and decompresses as a stream, which is all a
 * puller needs. Every byte in and out is reported to an `InflationGuard`, so a bomb is refused at the chunk
 * (gzip) or block (zstd) that crosses a limit, before its output is buffered.
 */
import { Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";
import { invalidArgument, ShimError } from "../internal/index.js";
import type { LayerCompression } from "./media-types.js";
import type { InflationGuard } from "./unpack-limits.js";

/**
 * The stages that turn compressed layer bytes into tar bytes, to be placed in one `pipeline`. Guard refusals
 * and corrupt zstd fail it with `InvalidArgument` naming `layer`; zlib errors (code `Z_DATA_ERROR`...) are
 * left for the caller to word, as it knows the layer and the entry being read.
 */
export function decompressionStages(
  compression: LayerCompression,
  guard: InflationGuard,
  layer: string,
): Transform[] {
  switch (compression) {
    case "none":
      return [
        counter((n) => {
          guard.input(n);
          guard.output(n);
        }),
      ];
    case "gzip":
      // zlib bounds each output chunk (here 128 KiB: fewer, larger chunks for tar and the disk) and honours
      // backpressure, so counting after it is enough.
      return [
        counter((n) => guard.input(n)),
        createGunzip({ chunkSize: GUNZIP_CHUNK }),
        counter((n) => guard.output(n)),
      ];
    case "zstd":
      return [zstd(guard, layer)];
  }
}

/** Counts what passes; fails the stream once (later writes, already in flight, are dropped). */
function counter(count: (n: number) => void): Transform {
  let failed = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (failed) return cb();
      try {
        count(chunk.length);
        cb(null, chunk);
      } catch (err) {
        failed = true;
        this.destroy(err as Error);
        cb();
      }
    },
  });
}

/** Output chunk size of gunzip. */
const GUNZIP_CHUNK = 128 * 1024;

/** Compressed input is fed to fzstd in slices so one network chunk of RLE blocks cannot expand unchecked. */
const ZSTD_SLICE = 16 * 1024;

/** fzstd calls back once per decompressed block (at most 128 KiB), synchronously within `push`. */
function zstd(guard: InflationGuard, layer: string): Transform {
  const out: Buffer[] = [];
  const d = new Decompress((data) => {
    guard.output(data.length);
    // fzstd reuses its window buffer: copy before handing the bytes on.
    if (data.length) out.push(Buffer.from(data));
  });
  const feed = (t: Transform, chunk: Uint8Array, final: boolean, cb: TransformCallback) => {
    try {
      if (final) d.push(new Uint8Array(0), true);
      for (let i = 0; i < chunk.length; i += ZSTD_SLICE) {
        const slice = chunk.subarray(i, i + ZSTD_SLICE);
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
