import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  mkfifo,
  readFifo,
  readFifoChunks,
  specFor,
  tempDir,
  testModule,
  wasmModule,
  wasmName,
} from "../../test/harness/index.js";
import { ChildRunner } from "./child-runner.js";
import { uleb } from "./leb128.js";
import { exportStartFunction, START_EXPORT, withStartFunction } from "./start-section.js";
import { wasm } from "./wasm-api.js";

const module = wasmModule;
const name = wasmName;
/** Type 0: [] -> []. */
const TYPES = [1, 1, 0x60, 0, 0];
/** Imports "t"."hit" as function 0, of type 0. */
const IMPORT_HIT = [2, 1, ...name("t"), ...name("hit"), 0x00, 0];
/** Functions 1 and 2 (after the import), both of type 0. */
const TWO_FUNCS = [3, 2, 0, 0];
/** Function 1 calls the import; function 2 does nothing. */
const CODE = [10, 2, 4, 0, 0x10, 0, 0x0b, 2, 0, 0x0b];
const start = (index: number) => [8, ...uleb(index)];
const exportsOf = (m: Uint8Array) =>
  wasm.Module.exports(new wasm.Module(m)).map((e) => `${e.name}:${e.kind}`);

/** Instantiates `m` with an import that counts its calls. */
function instantiate(m: Uint8Array): { hits: () => number; exports: Record<string, unknown> } {
  let hits = 0;
  const instance = new wasm.Instance(new wasm.Module(m), { t: { hit: () => hits++ } });
  return { hits: () => hits, exports: instance.exports };
}

describe("exportStartFunction", () => {
  it("leaves a module without a start section alone", () => {
    const m = module(TYPES, IMPORT_HIT, TWO_FUNCS, [7, 1, ...name("_start"), 0, 2], CODE);
    assert.equal(exportStartFunction(m), undefined);
    assert.equal(exportStartFunction(readFileSync(testModule("exit-code"))), undefined);
  });

  it("moves the start function to an export: instantiating runs nothing, calling the export does", () => {
    const m = module(TYPES, IMPORT_HIT, TWO_FUNCS, [7, 1, ...name("_start"), 0, 2], start(1), CODE);
    assert.equal(instantiate(m).hits(), 1, "the original runs its start function at instantiation");
    const moved = exportStartFunction(m)!;
    assert.equal(moved.name, START_EXPORT);
    assert.deepEqual(exportsOf(moved.bytes), ["_start:function", `${START_EXPORT}:function`]);
    const i = instantiate(moved.bytes);
    assert.equal(i.hits(), 0);
    (i.exports[START_EXPORT] as () => void)();
    assert.equal(i.hits(), 1);
  });

  it("adds an export section when the module had none, and can export an imported start function", () => {
    const moved = exportStartFunction(module(TYPES, IMPORT_HIT, start(0)))!;
    assert.deepEqual(exportsOf(moved.bytes), [`${START_EXPORT}:function`]);
    const i = instantiate(moved.bytes);
    assert.equal(i.hits(), 0);
    (i.exports[START_EXPORT] as () => void)();
    assert.equal(i.hits(), 1);
  });

  it("takes another name when the module exports START_EXPORT itself", () => {
    const m = module(TYPES, IMPORT_HIT, TWO_FUNCS, [7, 1, ...name(START_EXPORT), 0, 2], start(1), CODE);
    const moved = exportStartFunction(m)!;
    assert.equal(moved.name, `${START_EXPORT}2`);
    assert.deepEqual(exportsOf(moved.bytes), [`${START_EXPORT}:function`, `${START_EXPORT}2:function`]);
  });

  it("keeps custom sections and the rest byte for byte", () => {
    const custom = [0, ...name("note"), 1, 2, 3];
    const m = module(TYPES, IMPORT_HIT, TWO_FUNCS, start(1), custom, CODE, custom);
    const moved = exportStartFunction(m)!.bytes;
    // Each section in `m` is its id, a one-byte size and its body: the arrays above plus one byte.
    const tail = m.subarray(m.length - (2 * (custom.length + 1) + CODE.length + 1));
    assert.deepEqual(Buffer.from(moved.subarray(moved.length - tail.length)), Buffer.from(tail));
    assert.equal(instantiate(moved).hits(), 0);
  });

  it("leaves a truncated or malformed module to the compiler", () => {
    const m = module(TYPES, IMPORT_HIT, TWO_FUNCS, start(1), CODE);
    assert.equal(exportStartFunction(m.subarray(0, m.length - 3)), undefined);
    assert.equal(
      exportStartFunction(Uint8Array.from([...m.subarray(0, 8), 8, 0xff, 0xff, 0xff, 0xff, 0xff])),
      undefined,
    );
  });

  it("withStartFunction: _start (or _initialize, added for a reactor) calls the start function first", () => {
    const order: string[] = [];
    const exports = {
      memory: {},
      _start: () => order.push("_start"),
      [START_EXPORT]: () => order.push("start"),
    };
    const seen = withStartFunction({ exports }, START_EXPORT);
    assert.deepEqual(Object.keys(seen.exports).sort(), ["_start", "memory"]);
    (seen.exports._start as () => void)();
    assert.deepEqual(order, ["start", "_start"]);
    const reactor = withStartFunction({ exports: { [START_EXPORT]: () => order.push("r") } }, START_EXPORT);
    (reactor.exports._initialize as () => void)();
    assert.deepEqual(order, ["start", "_start", "r"]);
  });
});

describe("a module's start function runs as the guest (ChildRunner)", { timeout: 60_000 }, () => {
  const tmp = tempDir("nodewasi-start-");
  let runner: ChildRunner;
  before(() => {
    runner = new ChildRunner({ isolation: "none", pool: 1 });
  });
  after(async () => {
    await runner.close();
    tmp.remove();
  });

  it("a start function that never returns: start() resolves, and SIGTERM ends it there with 143", async () => {
    const path = mkfifo(join(tmp.dir, "loop.fifo"));
    const out = readFifoChunks(path);
    const p = await runner.start(specFor("start-loop", [], { stdout: { kind: "fifo", path } }));
    assert.equal((await out.first).toString(), "in start\n");
    p.kill("SIGTERM");
    const status = await p.exited;
    assert.equal(status.code, 143);
    assert.equal(status.signal, "SIGTERM");
  });

  it("runs before _start, with WASI usable (the order instantiation keeps); status 0", async () => {
    const path = mkfifo(join(tmp.dir, "order.fifo"));
    const out = readFifo(path);
    const p = await runner.start(specFor("start-order", [], { stdout: { kind: "fifo", path } }));
    assert.equal((await p.exited).code, 0);
    assert.equal((await out).toString(), "start\n_start\n");
  });

  it("a trap in the start function is the guest's trap: 134 and the message on its stderr", async () => {
    // (func $t unreachable) (start $t), with the memory and _start node:wasi needs.
    const trap = module(
      TYPES,
      [3, 2, 0, 0],
      [5, 1, 0, 1],
      [7, 2, ...name("memory"), 2, 0, ...name("_start"), 0, 1],
      start(0),
      [10, 2, 3, 0, 0x00, 0x0b, 2, 0, 0x0b],
    );
    const file = join(tmp.dir, "trap-in-start.wasm");
    writeFileSync(file, trap);
    const err = join(tmp.dir, "trap.err");
    const p = await runner.start({
      ...specFor("exit-code"),
      module: file,
      stderr: { kind: "file", path: err },
    });
    const status = await p.exited;
    assert.equal(status.code, 134);
    assert.equal(status.trap, "unreachable");
    assert.equal(readFileSync(err, "utf8"), "Error: wasm trap: unreachable\n");
  });
});
