/**
 * The look-ahead of unpack.ts (issue 10 item 11): a layer's entries are counted ahead of the applier, so a layer
 * over the entry or size limit is refused before its files are written, not after. Writing an entry costs
 * several file system calls (0.5 ms and more on a busy disk), parsing its header a microsecond: a layer of
 * 200,000 one-byte files used to write 100,000 of them (minutes, and as long again to delete them) before the
 * applier met entry 100,001; the scan meets it within a second.
 *
 * The scan decompresses its own copy of the layer's compressed bytes and reads only tar headers, skipping
 * content, with the same limits and the same words as the applier (EntryBudget, InflationGuard). It sees the
 * bytes as they enter the applier's pipeline, which may buffer up to READ_AHEAD compressed bytes that the
 * applier has not reached yet: enough to hold a million headers of empty files (a few bytes each, compressed),
 * and a bound on memory. The price is decompressing every tar layer twice (gzip in zlib's thread, zstd by
 * zlib, a `zstd -d` process or fzstd), in parallel with writing; a scan that falls behind only slows the bytes
 * down, never drops them.
 */
import { PassThrough, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Extract } from "tar-stream";
import type { LayerCompression } from "../image/index.js";
import { decompressionStages } from "./decompress.js";
import { EntryBudget, InflationGuard, type UnpackLimits } from "./unpack-limits.js";
import type { ZstdDecoder } from "./zstd-decoders.js";

/** Compressed bytes the applier's pipeline may hold that the scan has already read. */
export const READ_AHEAD = 8 * 1024 * 1024;

/** What the scan reports when it fails: the error and the entry it was reading. */
export interface ScanFailure {
  error: unknown;
  entry: string | undefined;
}

export class LayerScan {
  /** Set once the scan has failed (a limit, or bytes that are no tar): the applier stops with it. */
  failure: ScanFailure | undefined;
  readonly #input = new PassThrough();
  #stopped = false;
  #current: string | undefined;

  /**
   * Starts reading into `extract`, a fresh `tar.extract()` (the caller has tar-stream loaded); `onFail` is called
   * once if the layer is refused (never after stop()).
   */
  constructor(
    extract: Extract,
    compression: LayerCompression,
    limits: UnpackLimits,
    layer: string,
    spent: { entries: number; bytes: number },
    zstd: ZstdDecoder | undefined,
    onFail: (f: ScanFailure) => void,
  ) {
    const budget = new EntryBudget(limits, layer);
    budget.entries = spent.entries;
    budget.bytes = spent.bytes;
    const guard = new InflationGuard(limits, layer, compression !== "none");
    const piping = pipeline([this.#input, ...decompressionStages(compression, guard, layer, zstd), extract]);
    piping.catch(() => {});
    const read = async () => {
      for await (const entry of extract) {
        const h = entry.header;
        this.#current = h.name;
        const file = h.type === "file" || h.type === "contiguous-file";
        budget.count(h.name, file ? (h.size ?? 0) : 0);
        entry.resume();
      }
      await piping;
    };
    read().catch((error: unknown) => {
      this.#input.destroy();
      extract.destroy();
      if (this.#stopped) return;
      this.#stopped = true;
      this.failure = { error, entry: this.#current };
      onFail(this.failure);
    });
  }

  /**
   * The stage to put first in the applier's pipeline: passes every chunk on unchanged, after handing it to the
   * scan, and holds up to READ_AHEAD bytes the applier has not taken yet.
   */
  tap(): Transform {
    const input = this.#input;
    return new Transform({
      readableHighWaterMark: READ_AHEAD,
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        if (this.#stopped || input.write(chunk)) return cb(null, chunk);
        const go = () => {
          input.off("drain", go);
          input.off("close", go);
          cb(null, chunk);
        };
        input.on("drain", go);
        input.on("close", go);
      },
      flush: (cb: TransformCallback) => {
        if (!this.#stopped) input.end();
        cb();
      },
    });
  }

  /** Ends the scan without a report: the applier finished, or failed on its own. */
  stop(): void {
    this.#stopped = true;
    this.#input.destroy();
  }
}
