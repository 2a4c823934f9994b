import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readWasmFileHeader, readWasmHeader } from "./wasm-header.js";

const MODULE = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const COMPONENT = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

describe("wasm header", () => {
  it("tells a core module from a component, whatever follows the header", () => {
    assert.deepEqual(readWasmHeader(Uint8Array.from(MODULE)), { kind: "module", version: 1 });
    assert.deepEqual(readWasmHeader(Uint8Array.from([...COMPONENT, 1, 2, 3])), {
      kind: "component",
      version: 13,
    });
    // An older component draft (0x0a) is still a component.
    assert.deepEqual(readWasmHeader(Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0a, 0, 1, 0])), {
      kind: "component",
      version: 10,
    });
  });

  it("says why other bytes are not wasm", () => {
    assert.deepEqual(readWasmHeader(Uint8Array.from(MODULE.slice(0, 5))), {
      error: "too short for a wasm binary (5 bytes, need 8)",
    });
    assert.deepEqual(readWasmHeader(Buffer.from("\x7fELF\x02\x01\x01\x00")), {
      error: 'not a wasm binary: starts with 0x7f454c46, want 0x0061736d ("\\0asm")',
    });
    assert.deepEqual(readWasmHeader(Uint8Array.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])), {
      error: "unknown wasm binary version 2 (layer 0)",
    });
  });

  it("reads a file's header from its first 8 bytes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodewasi-header-"));
    try {
      await writeFile(
        join(dir, "m.wasm"),
        Buffer.concat([Buffer.from(COMPONENT), Buffer.alloc(1 << 20, 0xff)]),
      );
      assert.deepEqual(await readWasmFileHeader(join(dir, "m.wasm")), { kind: "component", version: 13 });
      await writeFile(join(dir, "short"), Buffer.from([0, 0x61]));
      assert.deepEqual(await readWasmFileHeader(join(dir, "short")), {
        error: "too short for a wasm binary (2 bytes, need 8)",
      });
      await assert.rejects(readWasmFileHeader(join(dir, "missing")), { code: "ENOENT" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
