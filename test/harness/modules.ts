/**
 * Small real wasm modules for fixtures, built at test time with `wat2wasm` from test/fixtures/hello.wat.
 * Each message gives a module with its own digest, so a test that pulls the wrong manifest sees the wrong
 * module rather than a coincidentally equal one.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's test/fixtures directory (this file runs from dist/test/harness). */
export const FIXTURES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures");

const cache = new Map<string, Buffer>();

/** WAT string escapes for arbitrary bytes. */
function watBytes(b: Buffer): string {
  return [...b].map((x) => `\\${x.toString(16).padStart(2, "0")}`).join("");
}

/** A WASI command module that prints `message` and a newline. Cached per message. */
export function helloModule(message: string): Buffer {
  const hit = cache.get(message);
  if (hit) return hit;
  const text = Buffer.from(`${message}\n`, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(text.length);
  const wat = readFileSync(join(FIXTURES_DIR, "hello.wat"), "utf8")
    // The quoted data strings, not the header comment that names the placeholders too.
    .replace('"@LENGTH_LE@"', `"${watBytes(len)}"`)
    .replace('"@MESSAGE@"', `"${watBytes(text)}"`);
  const dir = mkdtempSync(join(tmpdir(), "nodewasi-wat-"));
  try {
    writeFileSync(join(dir, "m.wat"), wat);
    execFileSync("wat2wasm", [join(dir, "m.wat"), "-o", join(dir, "m.wasm")], { stdio: "pipe" });
    const wasm = readFileSync(join(dir, "m.wasm"));
    cache.set(message, wasm);
    return wasm;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes that are not wasm (an ELF header and padding), for the linux/amd64 entries of mixed indexes. */
export function notWasm(tag: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
    Buffer.from(`not wasm: ${tag}\n`),
  ]);
}

/** A minimal WebAssembly component preamble (`\0asm`, version 0x0d, layer 1): what wasip2 images carry. */
export function componentBytes(): Buffer {
  return Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
}

/** Unsigned LEB128, as wasm section sizes are written. */
function leb128(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
}

/**
 * A real module of about `size` bytes: `helloModule(message)` plus a custom section of pseudo-random bytes that
 * do not compress, so blobs are big enough to be cut, resumed and corrupted part way through. `fill`, when
 * given, writes the section's content instead (benchmarks that want content that compresses like a module's).
 */
export function bigModule(message: string, size: number, fill?: (payload: Buffer) => void): Buffer {
  const base = helloModule(message);
  const name = Buffer.from("nodewasi.padding");
  const payload = Buffer.alloc(Math.max(0, size - base.length));
  if (fill) fill(payload);
  else {
    let x = 0x9e3779b9;
    for (let i = 0; i < payload.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      payload[i] = x & 0xff;
    }
  }
  const body = Buffer.concat([leb128(name.length), name, payload]);
  return Buffer.concat([base, Buffer.from([0]), leb128(body.length), body]);
}

const WORDS = (
  "i32.const i32.load i32.store local.get local.set call br_if block loop end memory table global export " +
  "import func __wasm_call_ctors malloc free memcpy printf fd_write proc_exit args_get environ_get _start " +
  "std::vector std::string alloc::raw_vec core::fmt"
).split(" ");

/**
 * A `bigModule` fill that is deterministic and mixed like a real module's bytes: runs of 64 to 2111 bytes, 3 in 8
 * pseudo-random (code, compressed assets), 4 in 8 identifier words (names, strings), 1 in 8 zeros (zero-filled
 * data), from xorshift32. It gzips to about half its size through both the literal and the match paths of
 * deflate (the build benchmark, and the build tests that pin a digest).
 */
export function mixedContent(out: Buffer): void {
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let at = 0; at < out.length; ) {
    const kind = next() % 8;
    const end = Math.min(out.length, at + 64 + (next() % 2048));
    if (kind < 3) for (let i = at; i < end; i++) out[i] = next() & 0xff;
    else if (kind < 7) {
      for (let i = at; i < end; ) {
        const word = WORDS[next() % WORDS.length]!;
        i += out.write(`${word} `, i, Math.min(word.length + 1, end - i));
      }
    } else out.fill(0, at, end);
    at = end;
  }
}

/**
 * A small component, written byte by byte after component-model Binary.md: an empty instance type, two
 * instance imports of it (one with the older 0x01 name form that carries a second string) and an export of
 * the first import.
 */
export function testComponent(): Buffer {
  const str = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  return Buffer.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00],
    ...section(7, [1, 0x42, 0]), // type section: one instance type with no declarations
    ...section(10, [
      2,
      ...[0x00, ...str("wasi:cli/environment@0.2.0"), 0x05, 0],
      ...[0x01, ...str("wasi:io/streams@0.2.0"), ...str("0.2.0"), 0x05, 0],
    ]),
    ...section(0, [...str("custom"), 1, 2, 3]),
    ...section(11, [1, 0x00, ...str("wasi:cli/run@0.2.0"), 0x05, 0, 0x00]),
  ]);
}
