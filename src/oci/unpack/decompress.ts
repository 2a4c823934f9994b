/**
 * Decompression of tar layers: gzip by node:zlib, zstd by the fastest decoder this process has
 * (zstd-decoders.ts: Node's zlib where it has zstd, else the system's `zstd -d`, else fzstd), always behind
 * the frame check of zstd-frames.ts. Every byte in and out is reported to an `InflationGuard`, so a bomb is
 * refused at the chunk (gzip, zlib, `zstd -d`) or block (fzstd) that crosses a limit, before its output is
 * buffered.
 */
import type { Duplex } from "node:stream";
import { createGunzip } from "node:zlib";
import type { LayerCompression } from "../image/index.js";
import { counter } from "./counter.js";
import type { InflationGuard } from "./unpack-limits.js";
import { defaultZstdDecoder, ZLIB_CHUNK, type ZstdDecoder } from "./zstd-decoders.js";
import { zstdFrameCheck } from "./zstd-frames.js";

/**
 * The stages that turn compressed layer bytes into tar bytes, to be placed in one `pipeline`. Guard refusals
 * and zstd that the frame check, `zstd -d` or fzstd refuse fail it with `InvalidArgument` naming `layer`;
 * zlib errors (code `Z_DATA_ERROR`, `ZSTD_error_...`) are left for the caller to word, as it knows the layer
 * and the entry being read. `zstd` is the decoder to use (default: the fastest available).
 */
export function decompressionStages(
  compression: LayerCompression,
  guard: InflationGuard,
  layer: string,
  zstd: ZstdDecoder = defaultZstdDecoder(),
): Duplex[] {
  switch (compression) {
    case "none":
      return [
        counter((n) => {
          guard.input(n);
          guard.output(n);
        }),
      ];
    case "gzip":
      // zlib bounds each output chunk (ZLIB_CHUNK: fewer, larger chunks for tar and the disk) and honours
      // backpressure, so counting after it is enough.
      return [
        counter((n) => guard.input(n)),
        createGunzip({ chunkSize: ZLIB_CHUNK }),
        counter((n) => guard.output(n)),
      ];
    case "zstd":
      return [zstdFrameCheck(layer, zstd.splitFrames === true), ...zstd.stages(guard, layer)];
  }
}
