import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir, testModule } from "../../test/harness/index.js";
import { Code, ShimError } from "../internal/index.js";
import { inspectWasm } from "./inspect.js";
import { capMemory, pagesFor } from "./memory-cap.js";
import { wasm } from "./wasm-api.js";

const hasWat2wasm = spawnSync("wat2wasm", ["--version"]).status === 0;
const tmp = tempDir("nodewasi-memcap-");
after(tmp.remove);
let n = 0;
function wat(text: string, ...flags: string[]): Uint8Array {
  const src = join(tmp.dir, `m${n}.wat`);
  const out = join(tmp.dir, `m${n++}.wasm`);
  writeFileSync(src, text);
  const r = spawnSync("wat2wasm", [...flags, src, "-o", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return new Uint8Array(readFileSync(out));
}

/** Instantiates `bytes` (memory exported as "memory") and grows its memory by `pages`: the old size or -1. */
function grow(bytes: Uint8Array, pages: number): number {
  const inst = new wasm.Instance(new wasm.Module(bytes), {});
  const mem = inst.exports.memory as { grow(n: number): number };
  try {
    return mem.grow(pages);
  } catch {
    return -1;
  }
}

function refused(f: () => unknown, code: Code, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof ShimError && e.code === code && pattern.test(e.message));
}

describe("capMemory", () => {
  it("caps a C module built by clang (memory without a max) and keeps it valid", () => {
    const bytes = new Uint8Array(readFileSync(testModule("grow-memory")));
    const before = inspectWasm(bytes).memory!;
    assert.equal(before.max, undefined);
    const capped = capMemory(bytes, before.min + 4);
    assert.deepEqual(inspectWasm(capped).memory, { ...before, max: before.min + 4 });
    assert.ok(new wasm.Module(capped));
    assert.deepEqual(inspectWasm(capped).exports, inspectWasm(bytes).exports);
  });

  it("lowers a larger max, keeps a smaller one, and makes grow fail past the cap", {
    skip: !hasWat2wasm,
  }, () => {
    const m = wat(`(module (memory (export "memory") 1 100))`);
    const capped = capMemory(m, 10);
    assert.equal(inspectWasm(capped).memory?.max, 10);
    assert.equal(grow(capped, 9), 1);
    assert.equal(grow(capped, 10), -1);
    assert.equal(grow(m, 10), 1, "the original still grows");
    assert.equal(inspectWasm(capMemory(wat(`(module (memory 1 3))`), 10)).memory?.max, 3);
  });

  it("rewrites the section size when the LEB128 of max grows longer", { skip: !hasWat2wasm }, () => {
    // min 1 with no max (3 bytes of limits) becomes max 300 (a 2-byte LEB128): the section grows by 2.
    const m = wat(`(module (memory (export "memory") 1) (func (export "f") (result i32) (i32.const 7)))`);
    const capped = capMemory(m, 300);
    assert.equal(capped.length, m.length + 2);
    assert.equal(inspectWasm(capped).memory?.max, 300);
    const inst = new wasm.Instance(new wasm.Module(capped), {});
    assert.equal((inst.exports.f as () => number)(), 7);
  });

  it("refuses min above the cap, shared and 64-bit memories", { skip: !hasWat2wasm }, () => {
    refused(
      () => capMemory(wat(`(module (memory 20))`), 10, "module /m.wasm"),
      Code.ResourceExhausted,
      /module \/m.wasm: needs at least 20 pages .* limit of 10 pages.*raise the memory limit/,
    );
    refused(
      () => capMemory(wat(`(module (memory 1 2 shared))`, "--enable-threads"), 10),
      Code.InvalidArgument,
      /shared or 64-bit/,
    );
    refused(
      () => capMemory(wat(`(module (memory i64 1))`, "--enable-memory64"), 10),
      Code.InvalidArgument,
      /shared or 64-bit/,
    );
    refused(
      () => capMemory(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), 70000),
      Code.InvalidArgument,
      /out of range/,
    );
  });

  it("returns modules without a defined memory unchanged", { skip: !hasWat2wasm }, () => {
    const imported = wat(`(module (import "env" "memory" (memory 1)))`);
    assert.equal(capMemory(imported, 1), imported);
    const none = wat(`(module (func))`);
    assert.equal(capMemory(none, 1), none);
  });

  it("refuses a truncated section instead of reading past the end", () => {
    refused(
      () => capMemory(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 9, 1]), 10),
      Code.InvalidArgument,
      /truncated/,
    );
  });
});

describe("pagesFor", () => {
  it("rounds bytes down to whole 64 KiB pages, at most 4 GiB", () => {
    assert.equal(pagesFor(1024 * 1024), 16);
    assert.equal(pagesFor(65535), 0);
    assert.equal(pagesFor(2 ** 40), 65536);
  });
});
