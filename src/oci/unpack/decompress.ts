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
import { invalidArgument, ShimError } from "../../internal/index.js";
import type { LayerCompression } from "../image/index.js";
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
      // zlib bounds each output chunk (here 1 MiB: fewer, larger chunks for tar and the disk) and honours
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

/**
 * Output chunk size of gunzip. Each chunk is one trip to zlib's thread and back: 1 MiB makes a 64 MiB layer 64
 * trips instead of 512, which costs a third less CPU than 128 KiB (and the store writes in 1 MiB batches).
 */
const GUNZIP_CHUNK = 1024 * 1024;

/** Compressed input is fed to fzstd in slices so one network chunk of RLE blocks cannot expand unchecked. */
const ZSTD_SLICE = 16 * 1024;

/**
 * Largest window a zstd frame may ask for: the reference decoder's default limit (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`
 * = 27; `zstd -d` refuses larger frames unless given `--memory`).
 */
export const MAX_ZSTD_WINDOW = 1 << 27;

/**
 * Follows the frame structure of a zstd stream (RFC 8878 section 3.1) just far enough to read every frame's
 * header before fzstd does: fzstd allocates the window a header asks for, up to 2 GiB, before it decodes a
 * byte, so an 18-byte layer could make the puller reserve that much. Anything it does not recognise is left
 * for fzstd to refuse.
 */
class ZstdFrameHeaders {
  #state: FrameState = "magic";
  #need = 4;
  #bytes: number[] = [];
  #skip = 0;
  #descriptor = 0;
  readonly #layer: string;

  constructor(layer: string) {
    this.#layer = layer;
  }

  /** Reads `chunk`; throws `InvalidArgument` at the header of a frame whose window is over the limit. */
  check(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length && this.#state !== "off"; ) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      this.#bytes.push(chunk[i++]!);
      if (this.#bytes.length === this.#need) this.#step(this.#bytes.splice(0));
    }
  }

  /** Goes on to read `need` bytes in `state`, after passing over `skip` bytes. */
  #next(state: FrameState, need: number, skip = 0): void {
    this.#state = state;
    this.#need = need;
    this.#skip = skip;
  }

  #step(b: number[]): void {
    const le = (from: number, n: number) => b.slice(from, from + n).reduceRight((v, x) => v * 256 + x, 0);
    const d = this.#descriptor;
    if (this.#state === "magic") {
      const magic = le(0, 4);
      if (magic === 0xfd2fb528) this.#next("descriptor", 1);
      else if (magic >= 0x184d2a50 && magic <= 0x184d2a5f) this.#next("skippable", 4);
      else this.#next("off", 0);
    } else if (this.#state === "skippable") {
      this.#next("magic", 4, le(0, 4));
    } else if (this.#state === "descriptor") {
      this.#descriptor = b[0]!;
      const single = (b[0]! >> 5) & 1;
      const fcs = b[0]! >> 6 ? 1 << (b[0]! >> 6) : single;
      this.#next("header", (single ? 0 : 1) + [0, 1, 2, 4][b[0]! & 3]! + fcs);
    } else if (this.#state === "header") {
      const fcsBytes = d >> 6 ? 1 << (d >> 6) : 1;
      let window: number;
      if ((d >> 5) & 1) window = le(b.length - fcsBytes, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
      else {
        const base = 2 ** (10 + (b[0]! >> 3));
        window = base + (base / 8) * (b[0]! & 7);
      }
      if (window > MAX_ZSTD_WINDOW) {
        throw invalidArgument(
          `${this.#layer}: a zstd frame asks for a ${window}-byte window, over the ${MAX_ZSTD_WINDOW}-byte ` +
            "limit of zstd's own decoder; recompress the layer without --long or a huge window",
        );
      }
      this.#next("block", 3);
    } else if (this.#state === "block") {
      const v = le(0, 3);
      // An RLE block (type 1) carries one byte whatever its size field says.
      const payload = ((v >> 1) & 3) === 1 ? 1 : v >> 3;
      if (v & 1) this.#next("magic", 4, payload + ((d >> 2) & 1 ? 4 : 0));
      else this.#next("block", 3, payload);
    }
  }
}

type FrameState = "magic" | "descriptor" | "header" | "block" | "skippable" | "off";

/** fzstd calls back once per decompressed block (at most 128 KiB), synchronously within `push`. */
function zstd(guard: InflationGuard, layer: string): Transform {
  const headers = new ZstdFrameHeaders(layer);
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
        headers.check(slice);
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
