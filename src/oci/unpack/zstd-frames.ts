/**
 * The frame check in front of every zstd decoder: it follows the frame structure of a zstd stream (RFC 8878
 * section 3.1) just far enough to read each frame's header and to know where the frame ends, so that whichever
 * decoder runs behind it (zstd-decoders.ts) refuses the same layers with the same words:
 *
 * - a frame whose window is over MAX_ZSTD_WINDOW, before any decoder sees it (fzstd allocates the window a
 *   header asks for, up to 2 GiB, before it decodes a byte, so an 18-byte layer could make the puller reserve
 *   that much);
 * - bytes that are neither a zstd frame nor a skippable frame (garbage, or trailing bytes after the last
 *   frame, which zlib and fzstd would pass over or word differently);
 * - a stream that ends inside a frame, or holds no frame at all (Node 22's zlib ends a truncated stream
 *   without an error).
 *
 * What lies inside a block is left for the decoder to check.
 *
 * Asked to, it also splits the bytes it passes on where a frame ends, so no chunk holds the end of one frame and
 * the start of the next: Node 22's zlib ends its output at the end of a frame that shares a write with the next
 * (zstd-decoders.ts). Only then, as each write is one trip to zlib's thread: a layer of many small frames
 * (zstd:chunked) decodes two to three times slower split.
 */
import { Transform } from "node:stream";
import { invalidArgument, type ShimError } from "../../internal/index.js";

/**
 * Largest window a zstd frame may ask for: the reference decoder's default limit (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`
 * = 27; `zstd -d` refuses larger frames unless given `--memory`).
 */
export const MAX_ZSTD_WINDOW = 1 << 27;

/**
 * A stage that passes zstd bytes on unchanged, in chunks split where frames end if `split`, and fails with
 * `InvalidArgument` naming `layer` (see above).
 */
export function zstdFrameCheck(layer: string, split = false): Transform {
  const frames = new ZstdFrames(layer);
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        const ends = frames.check(chunk);
        let from = 0;
        for (const end of split ? ends : []) {
          this.push(chunk.subarray(from, end));
          from = end;
        }
        cb(null, from === 0 ? chunk : chunk.subarray(from));
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      try {
        frames.end();
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

type FrameState = "magic" | "descriptor" | "header" | "block" | "skippable";

/** The walker behind zstdFrameCheck: reads frame headers and block headers, skips everything else. */
class ZstdFrames {
  #state: FrameState = "magic";
  #need = 4;
  #bytes: number[] = [];
  #skip = 0;
  #descriptor = 0;
  /** Bytes read or skipped so far, to say where a stream went wrong. */
  #offset = 0;
  #frames = 0;
  readonly #layer: string;

  constructor(layer: string) {
    this.#layer = layer;
  }

  /**
   * Reads `chunk`; throws at the first byte that makes the stream one a decoder must not be given. Returns the
   * offsets in `chunk`, before its end, at which a frame ends.
   */
  check(chunk: Uint8Array): number[] {
    const ends: number[] = [];
    for (let i = 0; i < chunk.length; ) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        this.#offset += n;
        i += n;
      } else {
        this.#bytes.push(chunk[i++]!);
        this.#offset++;
        if (this.#bytes.length === this.#need) this.#step(this.#bytes.splice(0));
      }
      const between = this.#state === "magic" && this.#skip === 0 && this.#bytes.length === 0;
      if (between && i < chunk.length) ends.push(i);
    }
    return ends;
  }

  /** Throws unless the stream ended where a frame ends, after at least one frame. */
  end(): void {
    const between = this.#state === "magic" && this.#bytes.length === 0 && this.#skip === 0;
    if (between && this.#frames > 0) return;
    throw this.#corrupt(
      this.#offset === 0
        ? "the layer is empty"
        : `it ends inside a frame, after ${this.#offset} bytes: the layer is truncated`,
    );
  }

  #corrupt(why: string): ShimError {
    return invalidArgument(`${this.#layer}: corrupt zstd data (${why}); pull it again`);
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
      else throw this.#corrupt(`no zstd frame starts at byte ${this.#offset - 4}`);
    } else if (this.#state === "skippable") {
      this.#frames++;
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
      if (v & 1) {
        this.#frames++;
        this.#next("magic", 4, payload + ((d >> 2) & 1 ? 4 : 0));
      } else this.#next("block", 3, payload);
    }
  }
}
