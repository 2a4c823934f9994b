/**
 * The `component` field of a CNCF Wasm OCI Artifact config for a WebAssembly component: the names of what it
 * imports and exports (../shared/reference/oci-wasm-images.md section 2c). bytecodealliance/rust-oci-wasm
 * (`Component::from_world`) lists the keys of the component's world: interface ids such as
 * `wasi:cli/environment@0.2.0` and plain names such as `run`. Those are exactly the names of the component's
 * top-level import and export sections, which is all this reads (WebAssembly/component-model
 * design/mvp/Binary.md): sections are skipped by their size, and inside the two sections each entry's extern
 * descriptor is skipped by its shape, never interpreted.
 */
import { invalidArgument } from "../../internal/index.js";

/** What rust-oci-wasm writes as `component`; `target` (a WIT world such as `wasi:http/proxy@0.2.0`) is optional metadata. */
export interface ComponentWorld {
  exports: string[];
  imports: string[];
  target: string | null;
}

const IMPORT_SECTION = 10;
const EXPORT_SECTION = 11;

/** Reads the top-level import and export names of a component. Throws `InvalidArgument` when it cannot. */
export function componentWorld(bytes: Uint8Array): ComponentWorld {
  const r = new Reader(bytes);
  r.pos = 8; // the preamble: magic, version, layer
  const world: ComponentWorld = { exports: [], imports: [], target: null };
  try {
    while (r.pos < bytes.length) {
      const id = r.byte();
      const size = r.u32();
      const end = r.pos + size;
      if (end > bytes.length) throw new Error(`section ${id} runs past the end`);
      if (id === IMPORT_SECTION) {
        for (let n = r.u32(); n > 0; n--) {
          world.imports.push(r.externName());
          r.externDesc();
        }
      } else if (id === EXPORT_SECTION) {
        for (let n = r.u32(); n > 0; n--) {
          world.exports.push(r.externName());
          if (r.byte() === 0x00) r.byte(); // sortidx: a core sort has a second byte
          r.u32();
          if (r.byte() === 0x01) r.externDesc(); // the optional ascribed type
        }
      }
      r.pos = end;
    }
  } catch (err) {
    throw invalidArgument(
      `cannot read the imports and exports of this component (at byte ${r.pos}): ${(err as Error).message}; ` +
        "check it with wasm-tools validate",
      { cause: err },
    );
  }
  return world;
}

class Reader {
  pos = 0;
  readonly #b: Uint8Array;

  constructor(b: Uint8Array) {
    this.#b = b;
  }

  byte(): number {
    if (this.pos >= this.#b.length) throw new Error("unexpected end of the binary");
    return this.#b[this.pos++]!;
  }

  /** Unsigned LEB128 (also skips an s33 type index or a one-byte primitive value type). */
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw new Error("LEB128 number too long");
  }

  string(): string {
    const len = this.u32();
    if (this.pos + len > this.#b.length) throw new Error("name runs past the end");
    const s = Buffer.from(this.#b.subarray(this.pos, this.pos + len)).toString("utf8");
    this.pos += len;
    return s;
  }

  /** `importname'` / `exportname'`: 0x00 name, or 0x01 name followed by a version suffix (or an older URL). */
  externName(): string {
    const tag = this.byte();
    const name = this.string();
    if (tag === 0x01) this.string();
    else if (tag !== 0x00) throw new Error(`unknown name encoding 0x${tag.toString(16)}`);
    return name;
  }

  /** `externdesc`: core module, func, value, type, component or instance, each with its index or bound. */
  externDesc(): void {
    const kind = this.byte();
    switch (kind) {
      case 0x00: // core module: 0x11 then a core type index
        this.byte();
        this.u32();
        return;
      case 0x01: // func
      case 0x04: // component
      case 0x05: // instance
        this.u32();
        return;
      case 0x02: // value: 0x00 value index | 0x01 value type
      case 0x03: // type: 0x00 eq type index | 0x01 sub resource
        if (this.byte() === 0x00 || kind === 0x02) this.u32();
        return;
      default:
        throw new Error(`unknown extern descriptor 0x${kind.toString(16)}`);
    }
  }
}
