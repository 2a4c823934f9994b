import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { testModule } from "../../test/harness/index.js";
import { hookMemoryGrow, OOM_EXPORT } from "./grow-hook.js";
import { capMemory } from "./memory-cap.js";
import { wasm } from "./wasm-api.js";

/** wat2wasm (wabt) of `text`. */
function wat(text: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "nodewasi-grow-"));
  try {
    writeFileSync(join(dir, "m.wat"), text);
    execFileSync("wat2wasm", [join(dir, "m.wat"), "-o", join(dir, "m.wasm")], { stdio: "pipe" });
    return new Uint8Array(readFileSync(join(dir, "m.wasm")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Exports = Record<string, unknown> & { grow(n: number): number };

function instantiate(bytes: Uint8Array): Exports {
  return new wasm.Instance(new wasm.Module(bytes), {}).exports as Exports;
}

const oomFlag = (e: Exports) => (e[OOM_EXPORT] as { value: number }).value;

// Bytes that look like `memory.grow 0` (0x40 0x00) without being one: an empty block type, an i32.const 64
// (0x41 0xc0 0x00) and a memarg; the decoder must step over them and keep their meaning.
const TRICKY = `(module
  (memory (export "memory") 1 3)
  (global $g (mut i32) (i32.const 7))
  (func (export "grow") (param i32) (result i32)
    (block (nop))
    (i32.store offset=64 (i32.const 0) (i32.const 64))
    (if (i32.ne (i32.load offset=64 (i32.const 0)) (i32.const 64)) (then unreachable))
    (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size)))`;

describe("hookMemoryGrow: a failed memory.grow sets the exported OOM global", () => {
  test("grows as before, and sets the global only when growth fails", () => {
    const e = instantiate(hookMemoryGrow(wat(TRICKY))!);
    assert.equal(oomFlag(e), 0);
    assert.equal(e.grow(1), 1, "memory.grow returns the old size");
    assert.equal((e.size as () => number)(), 2);
    assert.equal(oomFlag(e), 0);
    assert.equal(e.grow(5), -1, "the guest still sees -1");
    assert.equal(oomFlag(e), 1);
    assert.equal(e.grow(1), 2, "and may go on");
  });

  test("adds a global section when the module has none, and keeps other exports", () => {
    const plain = wat(`(module (memory (export "memory") 1 2)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);
    const e = instantiate(hookMemoryGrow(plain)!);
    assert.equal(e.grow(3), -1);
    assert.equal(oomFlag(e), 1);
    assert.ok(e.memory);
  });

  test("handles clang's output: grow-memory.wasm capped, then hooked, compiles and exports the global", () => {
    const capped = capMemory(new Uint8Array(readFileSync(testModule("grow-memory"))), 4);
    const hooked = hookMemoryGrow(capped);
    assert.ok(hooked, "every instruction of grow-memory.wasm is known");
    const names = wasm.Module.exports(new wasm.Module(hooked)).map((x) => x.name);
    assert.ok(names.includes(OOM_EXPORT) && names.includes("_start") && names.includes("memory"));
  });

  test("gives up (undefined) on an instruction it does not know, and on a module without code", () => {
    // One type ()->(), one function whose body holds 0xfb (a GC prefix) then end.
    const gc = Uint8Array.from([
      ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
      ...[1, 4, 1, 0x60, 0, 0],
      ...[3, 2, 1, 0],
      ...[10, 6, 1, 4, 0, 0xfb, 0x00, 0x0b],
    ]);
    assert.equal(hookMemoryGrow(gc), undefined);
    assert.equal(hookMemoryGrow(wat(`(module (memory 1))`)), undefined);
  });
});
