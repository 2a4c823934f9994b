/**
 * The per-module memory cap of DESIGN decision 9. `resourceLimits` does not bound wasm memory and clang/rustc
 * modules define their own memory, so the limit is written into the module: the maximum of memory 0 in its
 * memory section is lowered to the cap (reference node-wasi.md §1.10, observed: the capped module cannot grow
 * past it and still validates). Every other byte is copied unchanged.
 */
import { Code, invalidArgument, ShimError } from "../internal/index.js";
import { uleb } from "./leb128.js";

/** Bytes of one wasm page. */
export const WASM_PAGE = 65536;

const SECTION_MEMORY = 5;

/**
 * Returns `bytes` with memory 0's maximum set to `min(max, capPages)` (or `capPages` when it had none); the
 * input is returned as is when the module defines no memory (an imported memory is bounded by the process-wide
 * `--wasm-max-mem-pages` only). Throws `InvalidArgument` for a shared or 64-bit memory (their limit flags are
 * not rewritten, rather than guessed at) or a malformed section, and `ResourceExhausted` when the module's
 * minimum is already above the cap: it could not even instantiate.
 */
export function capMemory(bytes: Uint8Array, capPages: number, what = "module"): Uint8Array {
  if (!Number.isInteger(capPages) || capPages < 0 || capPages > 65536) {
    throw invalidArgument(
      `${what}: memory cap of ${capPages} pages is out of range (0..65536 pages of 64 KiB)`,
    );
  }
  let pos = 8;
  const leb = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      if (pos >= bytes.length) throw invalidArgument(`${what}: truncated at offset ${pos}`);
      const b = bytes[pos++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw invalidArgument(`${what}: integer at offset ${pos} is longer than 5 bytes`);
  };
  while (pos < bytes.length) {
    const sectionStart = pos;
    const id = bytes[pos++]!;
    const size = leb();
    const bodyStart = pos;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > bytes.length)
      throw invalidArgument(`${what}: section ${id} at offset ${sectionStart} is truncated`);
    if (id !== SECTION_MEMORY) {
      pos = bodyEnd;
      continue;
    }
    const count = leb();
    if (count === 0) return bytes;
    const flags = bytes[pos++];
    if (flags !== 0 && flags !== 1) {
      throw invalidArgument(
        `${what}: memory limits flags 0x${(flags ?? 0).toString(16)} (shared or 64-bit memory) cannot be capped; run it without a memory limit`,
      );
    }
    const min = leb();
    const max = flags === 1 ? leb() : undefined;
    if (min > capPages) {
      throw new ShimError(
        Code.ResourceExhausted,
        `${what}: needs at least ${min} pages (${min * 64} KiB) of memory, above the limit of ${capPages} pages (${capPages * 64} KiB); raise the memory limit`,
      );
    }
    const limits = [...uleb(1), ...uleb(min), ...uleb(Math.min(max ?? capPages, capPages))];
    const body = [...uleb(count), ...limits, ...bytes.subarray(pos, bodyEnd)];
    const head = [SECTION_MEMORY, ...uleb(body.length)];
    const out = new Uint8Array(sectionStart + head.length + body.length + (bytes.length - bodyEnd));
    out.set(bytes.subarray(0, sectionStart));
    out.set(head, sectionStart);
    out.set(body, sectionStart + head.length);
    out.set(bytes.subarray(bodyEnd), sectionStart + head.length + body.length);
    return out;
  }
  return bytes;
}

/** Pages for a byte limit, rounded down (a limit below one page allows none), at most 65536 (4 GiB). */
export function pagesFor(limitBytes: number): number {
  return Math.min(65536, Math.floor(limitBytes / WASM_PAGE));
}
