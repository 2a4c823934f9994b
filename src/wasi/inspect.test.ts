import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { Code, ShimError } from "../internal/index.js";
import { inspectWasm } from "./inspect.js";

const hasWat2wasm = spawnSync("wat2wasm", ["--version"]).status === 0;
const skip = hasWat2wasm ? false : "wat2wasm (Debian package wabt) is not installed";
const dir = mkdtempSync(join(tmpdir(), "nodewasi-inspect-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Assembles WAT with the real wabt assembler, so the parser is checked against binaries it did not make. */
function wat(text: string, ...flags: string[]): Uint8Array {
  const src = join(dir, `m${n}.wat`);
  const out = join(dir, `m${n++}.wasm`);
  writeFileSync(src, text);
  const r = spawnSync("wat2wasm", [...flags, src, "-o", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return new Uint8Array(readFileSync(out));
}

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const bytes = (...b: number[]) => new Uint8Array([...HEADER, ...b]);

function invalid(input: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => inspectWasm(input, "module /m.wasm"),
    (err: unknown) => {
      assert.ok(err instanceof ShimError, String(err));
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

const COMMAND = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 2 16)
  (global (export "g") i32 (i32.const 1))
  (func (export "_start")))`;

describe("inspectWasm on modules assembled by wat2wasm", { skip }, () => {
  it("reads a WASI preview 1 command", () => {
    const info = inspectWasm(wat(COMMAND));
    assert.deepEqual(info, {
      kind: "module",
      imports: [
        { module: "wasi_snapshot_preview1", name: "fd_write", kind: "func" },
        { module: "wasi_snapshot_preview1", name: "proc_exit", kind: "func" },
      ],
      exports: [
        { name: "memory", kind: "memory" },
        { name: "g", kind: "global" },
        { name: "_start", kind: "func" },
      ],
      memory: { min: 2, max: 16, shared: false, memory64: false, imported: false },
      wasi: "preview1",
      startExport: true,
    });
  });

  it("reads imported shared memory, tables, globals and tags", () => {
    const info = inspectWasm(
      wat(
        `(module
          (import "wasi_unstable" "fd_close" (func (param i32) (result i32)))
          (import "env" "memory" (memory 1 65536 shared))
          (import "env" "t" (table 3 funcref))
          (import "env" "e" (table 1 10 externref))
          (import "env" "g" (global (mut i64)))
          (import "env" "h" (global f64))
          (import "env" "x" (tag (param i32)))
          (func (export "_start") (param i32)))`,
        "--enable-threads",
        "--enable-exceptions",
      ),
    );
    assert.deepEqual(
      info.imports.map((i) => `${i.module}.${i.name}:${i.kind}`),
      [
        "wasi_unstable.fd_close:func",
        "env.memory:memory",
        "env.t:table",
        "env.e:table",
        "env.g:global",
        "env.h:global",
        "env.x:tag",
      ],
    );
    assert.deepEqual(info.memory, { min: 1, max: 65536, shared: true, memory64: false, imported: true });
    assert.equal(info.wasi, "unstable");
    // _start takes a parameter here but is still a function export named _start.
    assert.equal(info.startExport, true);
  });

  it("reads memory64 limits and a module without memory or WASI", () => {
    const m64 = inspectWasm(wat(`(module (memory i64 3 5))`, "--enable-memory64"));
    assert.deepEqual(m64.memory, { min: 3, max: 5, shared: false, memory64: true, imported: false });
    const bare = inspectWasm(wat(`(module (func (export "run")))`));
    assert.equal(bare.memory, undefined);
    assert.equal(bare.wasi, "none");
    assert.equal(bare.startExport, false);
  });

  it("never throws anything but InvalidArgument on truncated or mutated real modules", () => {
    const good = wat(COMMAND);
    fc.assert(
      fc.property(
        fc.nat(good.length - 1),
        fc.nat(good.length - 1),
        fc.integer({ min: 0, max: 255 }),
        (cut, at, v) => {
          for (const input of [good.subarray(0, cut), Uint8Array.from(good, (b, i) => (i === at ? v : b))]) {
            try {
              inspectWasm(input);
            } catch (err) {
              assert.ok(err instanceof ShimError && err.code === Code.InvalidArgument, String(err));
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
    // Any strict prefix that cuts a section is refused, not read as a smaller module.
    invalid(good.subarray(0, good.length - 1), /truncated|claims \d+ bytes/);
  });
});

describe("inspectWasm on hand-made bytes", () => {
  it("accepts the empty module", () => {
    assert.deepEqual(inspectWasm(bytes()), {
      kind: "module",
      imports: [],
      exports: [],
      wasi: "none",
      startExport: false,
    });
  });

  it("recognises components without parsing core sections", () => {
    const info = inspectWasm(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0xff, 0xff]));
    assert.equal(info.kind, "component");
  });

  it("refuses bad magic, short input and unknown versions", () => {
    invalid(
      new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
      /module \/m.wasm: not a wasm binary: starts with 0x7f454c46/,
    );
    invalid(new Uint8Array([0, 0x61, 0x73]), /too short/);
    invalid(new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]), /unknown wasm binary version 2/);
  });

  it("refuses oversized sections, counts and integers with the offset", () => {
    invalid(bytes(0x01, 0x7f), /section 1 \(type\) at offset 10 claims 127 bytes, only 0 remain/);
    invalid(bytes(0x02, 0x80, 0x80, 0x80, 0x80, 0x10), /integer at offset 9 is too large/);
    invalid(bytes(0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), /longer than 5 bytes/);
    invalid(bytes(0x02, 0x02, 0xff, 0x01), /count 255 at offset 10 exceeds the 0 bytes left/);
    invalid(bytes(0x02), /truncated at offset 9/);
    invalid(bytes(0x02, 0x01), /section 2 \(import\) at offset 10 claims 1 bytes, only 0 remain/);
    invalid(bytes(0x0e, 0x00), /unknown section id 14 at offset 8/);
    invalid(bytes(0x05, 0x01, 0x00, 0x05, 0x01, 0x00), /duplicate memory section at offset 11/);
  });

  it("refuses malformed import and export entries", () => {
    // One import: module "a", name "b", kind 9.
    invalid(bytes(0x02, 0x06, 0x01, 0x01, 0x61, 0x01, 0x62, 0x09), /unknown import\/export kind 0x9/);
    // Name with an invalid UTF-8 byte.
    invalid(bytes(0x07, 0x05, 0x01, 0x01, 0xff, 0x00, 0x00), /name at offset 11 is not valid UTF-8/);
    // Memory limits with max < min.
    invalid(bytes(0x05, 0x04, 0x01, 0x01, 0x05, 0x02), /max 2 < min 5/);
    // Bad limits flags.
    invalid(bytes(0x05, 0x03, 0x01, 0x08, 0x01), /bad limits flags 0x8/);
    // Trailing bytes inside a section.
    invalid(bytes(0x05, 0x04, 0x01, 0x00, 0x01, 0x00), /1 unread bytes at the end of the section/);
  });

  it("never throws anything but InvalidArgument on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (tail, withHeader) => {
        try {
          inspectWasm(withHeader ? bytes(...tail) : tail);
        } catch (err) {
          assert.ok(err instanceof ShimError && err.code === Code.InvalidArgument, String(err));
        }
      }),
      { numRuns: 5000 },
    );
  });
});
