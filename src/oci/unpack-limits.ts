/**
 * Limits that keep a hostile layer from exhausting the host while it is unpacked (DESIGN decision 13). The
 * defaults are generous for real wasm images (a few MiB, a handful of entries) and stop archive bombs early.
 */
import { invalidArgument, type ShimError } from "../internal/index.js";

/** Per-layer limits; each refusal names the limit so a user can tell a bomb from a big image. */
export interface UnpackLimits {
  /** Most tar entries in one layer (default 100 000). */
  maxEntries: number;
  /** Most bytes of file content in one layer, after decompression (default 2 GiB). */
  maxBytes: number;
  /**
   * Compression ratio (decompressed / compressed) above which a layer is a bomb, checked only once more than
   * `ratioFloorBytes` have been decompressed (default 100, as a real tar of code rarely beats 20:1).
   */
  maxRatio: number;
  /** Decompressed bytes below which the ratio is not checked (default 64 MiB): small sparse files are fine. */
  ratioFloorBytes: number;
  /** Longest entry path in bytes (default 4096, Linux PATH_MAX) and longest component (255, NAME_MAX). */
  maxPathBytes: number;
  maxNameBytes: number;
}

/** The defaults of `UnpackLimits`. */
export const DEFAULT_UNPACK_LIMITS: Readonly<UnpackLimits> = Object.freeze({
  maxEntries: 100_000,
  maxBytes: 2 * 1024 ** 3,
  maxRatio: 100,
  ratioFloorBytes: 64 * 1024 ** 2,
  maxPathBytes: 4096,
  maxNameBytes: 255,
});

/**
 * Counts compressed input and decompressed output of one layer and throws `InvalidArgument` the moment the
 * output is too large or inflates too fast. It is called from inside the decompressor for each block, so a bomb
 * is stopped before its output is buffered, not after.
 */
export class InflationGuard {
  compressed = 0;
  decompressed = 0;
  readonly #limits: UnpackLimits;
  readonly #layer: string;
  readonly #measureRatio: boolean;

  constructor(limits: UnpackLimits, layer: string, measureRatio: boolean) {
    this.#limits = limits;
    this.#layer = layer;
    this.#measureRatio = measureRatio;
  }

  input(n: number): void {
    this.compressed += n;
  }

  output(n: number): void {
    this.decompressed += n;
    const l = this.#limits;
    // The tar stream carries 512-byte headers and padding on top of content, so allow one header per entry.
    if (this.decompressed > l.maxBytes + l.maxEntries * 1024) {
      throw tooBig(`${this.#layer}: more than ${l.maxBytes} bytes after decompression`);
    }
    if (
      this.#measureRatio &&
      this.decompressed > l.ratioFloorBytes &&
      this.decompressed > l.maxRatio * Math.max(this.compressed, 1)
    ) {
      throw tooBig(
        `${this.#layer}: ${this.compressed} compressed bytes inflated to more than ${this.decompressed} ` +
          `(ratio above ${l.maxRatio}:1); refusing a likely decompression bomb`,
      );
    }
  }
}

/** These limits are fixed (not settable), so the refusal names the limit and why, and no setting to change. */
function tooBig(msg: string): ShimError {
  return invalidArgument(`${msg}: refused by nodewasi's unpack limits, which stop decompression bombs`);
}
