/**
 * The 8-byte header of a WebAssembly binary: `\0asm` then a version/layer word. Both `oci` (to check what a
 * pull extracted) and `wasi` (to inspect before running) read it, so it lives here, below both.
 * Reference: WebAssembly/component-model design/mvp/Binary.md.
 */
import { open } from "node:fs/promises";

export type WasmKind = "module" | "component";

export interface WasmHeader {
  kind: WasmKind;
  /** The 4 bytes after the magic, little-endian: 1 for a core module. */
  version: number;
}

/** Reads the header, or returns a reason why these bytes are not a wasm binary. */
export function readWasmHeader(bytes: Uint8Array): WasmHeader | { error: string } {
  if (bytes.length < 8) return { error: `too short for a wasm binary (${bytes.length} bytes, need 8)` };
  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    const hex = Buffer.from(bytes.subarray(0, 4)).toString("hex");
    return { error: `not a wasm binary: starts with 0x${hex}, want 0x0061736d ("\\0asm")` };
  }
  const version = bytes[4]! | (bytes[5]! << 8);
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 0 && version === 1) return { kind: "module", version };
  // Components: layer 1 with version 0x0d (current) or 0x0a (older drafts).
  if (layer === 1) return { kind: "component", version };
  return { error: `unknown wasm binary version ${version} (layer ${layer})` };
}

/** Reads the header of the wasm binary at `path` (its first 8 bytes only). */
export async function readWasmFileHeader(path: string): Promise<WasmHeader | { error: string }> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    return readWasmHeader(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
