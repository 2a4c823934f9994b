/**
 * Limits that keep a hostile layer from exhausting the host while it is unpacked (DESIGN decision 13). The
 * defaults are generous for real wasm images (a few MiB, a handful of entries) and stop archive bombs early.
 * The three a genuine image may need raised are read from the environment of the process that pulls
 * (`nodewasi pull`, else the shim daemon that `nodewasi run` or containerd started): `UNPACK_LIMIT_ENV`.
 */
import { failedPrecondition, invalidArgument, parseByteSize, type ShimError } from "../../internal/index.js";

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

/** The environment variables that raise (or lower) a limit, named in every refusal by that limit. */
export const UNPACK_LIMIT_ENV = {
  maxEntries: "NODEWASI_UNPACK_MAX_ENTRIES",
  maxBytes: "NODEWASI_UNPACK_MAX_BYTES",
  maxRatio: "NODEWASI_UNPACK_MAX_RATIO",
} as const;

/**
 * The limits with `env`'s settings over the defaults: a whole number of entries, a size (`4g`, `500m`, bytes)
 * and a ratio. Throws FailedPrecondition naming the variable when one is set to something else.
 */
export function unpackLimitsFrom(env: NodeJS.ProcessEnv = process.env): UnpackLimits {
  const limits: UnpackLimits = { ...DEFAULT_UNPACK_LIMITS };
  const read = (
    key: keyof typeof UNPACK_LIMIT_ENV,
    parse: (v: string) => number | undefined,
    what: string,
  ) => {
    const name = UNPACK_LIMIT_ENV[key];
    const text = env[name];
    if (text === undefined || text.trim() === "") return;
    const n = parse(text);
    if (n === undefined || !(n > 0)) throw failedPrecondition(`${name}=${text}: not ${what}`);
    limits[key] = n;
  };
  const whole = (v: string) => (/^\d+$/.test(v.trim()) ? Number(v) : undefined);
  read("maxEntries", whole, "a positive whole number of tar entries, e.g. 500000");
  read("maxBytes", parseByteSize, "a positive size in bytes, or with k, m or g (e.g. 8g)");
  read("maxRatio", whole, "a positive whole compression ratio, e.g. 500");
  return limits;
}

/**
 * Counts a layer's entries and the file bytes their headers declare against its limits. The look-ahead scan and
 * the applier of unpack.ts each count with one, so whichever meets an entry over a limit first refuses it with
 * the same words. (A header cannot under-declare: tar-stream reads exactly `size` bytes of content per entry.)
 */
export class EntryBudget {
  entries = 0;
  bytes = 0;

  constructor(
    readonly limits: Pick<UnpackLimits, "maxEntries" | "maxBytes">,
    readonly layer: string,
  ) {}

  /** Counts one entry (`size` for a regular file's content); throws the refusal when it crosses a limit. */
  count(name: string, size: number): void {
    const l = this.limits;
    if (++this.entries > l.maxEntries) {
      throw overLimit(this.layer, name, `the image has more than ${l.maxEntries} entries`, "maxEntries");
    }
    this.bytes += size;
    if (this.bytes > l.maxBytes) {
      throw overLimit(this.layer, name, `the image holds more than ${l.maxBytes} bytes of files`, "maxBytes");
    }
  }
}

/** A refusal by a limit: it names the entry and the limit, and how to raise it for a genuine image. */
function overLimit(layer: string, entry: string, why: string, key: keyof typeof UNPACK_LIMIT_ENV): ShimError {
  return invalidArgument(`${layer}: refusing entry ${JSON.stringify(entry)}: ${why}; ${raise(key)}`);
}

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
      throw tooBig(`${this.#layer}: more than ${l.maxBytes} bytes after decompression`, "maxBytes");
    }
    if (
      this.#measureRatio &&
      this.decompressed > l.ratioFloorBytes &&
      this.decompressed > l.maxRatio * Math.max(this.compressed, 1)
    ) {
      throw tooBig(
        `${this.#layer}: ${this.compressed} compressed bytes inflated to more than ${this.decompressed} ` +
          `(ratio above ${l.maxRatio}:1); refusing a likely decompression bomb`,
        "maxRatio",
      );
    }
  }
}

function tooBig(msg: string, key: keyof typeof UNPACK_LIMIT_ENV): ShimError {
  return invalidArgument(
    `${msg}: refused by nodewasi's unpack limits, which stop decompression bombs; ${raise(key)}`,
  );
}

/** The advice that ends a refusal by a limit (worded as advice, so the CLI adds no generic hint to it). */
function raise(key: keyof typeof UNPACK_LIMIT_ENV): string {
  return (
    `set ${UNPACK_LIMIT_ENV[key]} higher where the pull runs (the environment of nodewasi pull, or of the ` +
    "shim daemon for nodewasi run and containerd) if the image is genuine"
  );
}
