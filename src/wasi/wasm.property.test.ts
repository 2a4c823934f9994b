/**
 * Hostile wasm binaries (issue 6 item 3), checked against V8 itself: modules generated section by section
 * (imports of every kind, memories with any limits, exports, custom sections, LEB128 integers padded to their
 * longest legal form or past it, counts that lie, section sizes that lie), then cut or changed at one byte.
 * `inspectWasm` accepts every binary V8 compiles and reads the same imports and exports, refuses the rest it
 * cannot frame with InvalidArgument, and never throws anything else; `capMemory` gives a module V8 still
 * compiles, whose memory maximum is within the cap.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { assertShimError, checkProperty, damageArb, damaged } from "../../test/harness/property.js";
import { Code } from "../internal/index.js";
import { inspectWasm, type WasmInfo } from "./inspect.js";
import { capMemory } from "./memory-cap.js";
import { type WasmModule, wasm } from "./wasm-api.js";

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** Unsigned LEB128 of `n`, padded with continuation bytes to `pad` bytes when longer than needed. */
function uleb(n: number | bigint, pad = 0): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n || out.length + 1 < pad) b |= 0x80;
    out.push(b);
  } while (v !== 0n || out.length < pad);
  return out;
}

const name = (s: string) => {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
};

/** A LEB padding: none usually, sometimes the 5-byte form (legal), sometimes 6 bytes (too long). */
const padArb = fc.constantFrom(0, 0, 0, 0, 0, 5, 6);
const nameArb = fc.constantFrom(
  "wasi_snapshot_preview1",
  "wasi_unstable",
  "env",
  "fd_write",
  "_start",
  "",
  "é",
  "m",
);

type Import = {
  module: string;
  name: string;
  kind: "func" | "memory" | "global" | "table";
  min: number;
  max?: number;
};
const importArb: fc.Arbitrary<Import> = fc.record(
  {
    module: nameArb,
    name: nameArb,
    kind: fc.constantFrom("func", "memory", "global", "table"),
    min: fc.nat(3),
    max: fc.integer({ min: 2, max: 5 }),
  },
  { requiredKeys: ["module", "name", "kind", "min"] },
);

interface Spec {
  imports: Import[];
  memory: { flags: number; min: number; max: number } | undefined;
  exports: { name: string; kind: number; index: number }[];
  custom: boolean;
  pad: number;
  /** The count of the import section as written (a lie when it differs from imports.length). */
  countLie: number | undefined;
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  imports: fc.array(importArb, { maxLength: 3 }),
  memory: fc.option(
    fc.record({
      flags: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(0, 1) },
        { weight: 1, arbitrary: fc.constantFrom(3, 5, 8) },
      ),
      min: fc.oneof(
        { weight: 6, arbitrary: fc.nat(4) },
        { weight: 1, arbitrary: fc.constantFrom(65536, 2 ** 32 - 1) },
      ),
      max: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 4, max: 100 }) },
        { weight: 1, arbitrary: fc.constantFrom(0, 65536, 65537) },
      ),
    }),
    { nil: undefined },
  ),
  exports: fc.uniqueArray(
    fc.record({
      name: nameArb,
      kind: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(0, 2, 3) },
        { weight: 1, arbitrary: fc.constant(9) },
      ),
      index: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(2) }),
    }),
    { maxLength: 2, selector: (e) => e.name },
  ),
  custom: fc.boolean(),
  pad: padArb,
  countLie: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom(0, 100, 2 ** 32 - 1) },
  ),
});

function section(id: number, body: number[], pad = 0): number[] {
  return [id, ...uleb(body.length, pad), ...body];
}

function moduleOf(s: Spec): Uint8Array {
  const out = [...HEADER];
  if (s.custom) out.push(...section(0, [...name("name"), 1, 2, 3]));
  out.push(...section(1, [1, 0x60, 0, 0])); // one type: () -> ()
  if (s.imports.length || s.countLie !== undefined) {
    const body = [...uleb(s.countLie ?? s.imports.length, s.pad)];
    for (const i of s.imports) {
      body.push(...name(i.module), ...name(i.name));
      const limits = [
        i.max === undefined ? 0 : 1,
        ...uleb(i.min, s.pad),
        ...(i.max === undefined ? [] : uleb(i.max)),
      ];
      if (i.kind === "func") body.push(0, 0);
      else if (i.kind === "table") body.push(1, 0x70, ...limits);
      else if (i.kind === "memory") body.push(2, ...limits);
      else body.push(3, 0x7f, 0);
    }
    out.push(...section(2, body, s.pad));
  }
  if (s.memory) {
    const m = s.memory;
    out.push(...section(5, [1, m.flags, ...uleb(m.min, s.pad), ...(m.flags & 1 ? uleb(m.max) : [])]));
  }
  if (s.exports.length) {
    const body = [...uleb(s.exports.length)];
    for (const e of s.exports) body.push(...name(e.name), e.kind, ...uleb(e.index));
    out.push(...section(7, body));
  }
  return new Uint8Array(out);
}

const V8_KIND: Record<string, string> = {
  function: "func",
  table: "table",
  memory: "memory",
  global: "global",
  tag: "tag",
};

/** What V8 makes of the bytes: the imports and exports of a module it compiles, or undefined. */
function v8View(bytes: Uint8Array): { imports: string[]; exports: string[] } | undefined {
  let m: WasmModule;
  try {
    m = new wasm.Module(bytes);
  } catch {
    return undefined;
  }
  return {
    imports: wasm.Module.imports(m).map((i) => `${i.module}.${i.name}:${V8_KIND[i.kind]}`),
    exports: wasm.Module.exports(m).map((e) => `${e.name}:${V8_KIND[e.kind]}`),
  };
}

function inspected(bytes: Uint8Array): WasmInfo | undefined {
  try {
    return inspectWasm(bytes, "module m.wasm");
  } catch (err) {
    assertShimError(err, [Code.InvalidArgument], "inspectWasm");
    return undefined;
  }
}

describe("hostile wasm binaries (property)", () => {
  it("inspectWasm reads every module V8 compiles as V8 does, and refuses the rest with InvalidArgument", async () => {
    let compiled = 0;
    await checkProperty(
      fc.property(specArb, damageArb, (spec, damage) => {
        const bytes = damaged(moduleOf(spec), damage);
        const started = performance.now();
        const info = inspected(bytes);
        assert.ok(performance.now() - started < 100, "inspectWasm took more than 100 ms");
        const v8 = v8View(bytes);
        if (!v8) return;
        compiled++;
        assert.ok(info, "V8 compiles it, inspectWasm refused it");
        assert.deepEqual(
          info.imports.map((i) => `${i.module}.${i.name}:${i.kind}`),
          v8.imports,
        );
        assert.deepEqual(
          info.exports.map((e) => `${e.name}:${e.kind}`),
          v8.exports,
        );
      }),
      2000,
    );
    assert.ok(compiled > 100, `only ${compiled} generated modules compiled: the generator is too hostile`);
  });

  it("capMemory keeps V8's verdict and bounds the memory it rewrites, or refuses with a ShimError", async () => {
    await checkProperty(
      fc.property(specArb, damageArb, fc.nat(70_000), (spec, damage, cap) => {
        const bytes = damaged(moduleOf(spec), damage);
        const before = v8View(bytes);
        let out: Uint8Array;
        try {
          out = capMemory(bytes, cap, "module m.wasm");
        } catch (err) {
          assertShimError(err, [Code.InvalidArgument, Code.ResourceExhausted], "capMemory");
          return;
        }
        if (!before) return;
        assert.ok(v8View(out), "V8 compiled the module but not its capped copy");
        const info = inspectWasm(out);
        if (info.memory && !info.memory.imported && cap <= 65536) {
          assert.ok(info.memory.max !== undefined && info.memory.max <= cap, JSON.stringify(info.memory));
        }
      }),
      1500,
    );
  });

  it("refuses huge counts and over-long integers in constant time", () => {
    const count = (n: number) => new Uint8Array([...HEADER, ...section(2, [...uleb(n), 0])]);
    for (const n of [2 ** 32 - 1, 2 ** 31, 1_000_000]) {
      assert.throws(
        () => inspectWasm(count(n)),
        (err) => !!assertShimError(err, [Code.InvalidArgument], String(n)),
      );
    }
    const longLeb = new Uint8Array([...HEADER, 2, ...Array(10).fill(0x80), 0]);
    assert.throws(() => inspectWasm(longLeb), /longer than 5 bytes/);
  });
});
