/**
 * What a wasm binary is before it runs: module or component, what it imports (which WASI), what it exports,
 * and its memory. A bounds-checked reader of the section framing and of the import, export and memory sections
 * (WebAssembly core spec 5.5 "Modules", plus the threads and memory64 limit flags); hostile bytes end in
 * `InvalidArgument` naming the offset, never a crash, a hang or a huge allocation.
 */
import { invalidArgument, readWasmHeader, type ShimError, type WasmKind } from "../internal/index.js";

export type ExternKind = "func" | "table" | "memory" | "global" | "tag";

export interface WasmInfo {
  kind: WasmKind;
  imports: { module: string; name: string; kind: ExternKind }[];
  exports: { name: string; kind: ExternKind }[];
  /** Memory 0 (imported or defined), in 64 KiB pages; absent when the module has none. */
  memory?: { min: number; max?: number; shared: boolean; memory64: boolean; imported: boolean };
  /** Which WASI the imports ask for: `wasi_snapshot_preview1`, the older `wasi_unstable`, or neither. */
  wasi: "preview1" | "unstable" | "none";
  /** Whether `_start` is exported as a function (a WASI command rather than a reactor or library). */
  startExport: boolean;
}

const KINDS: readonly ExternKind[] = ["func", "table", "memory", "global", "tag"];
const SECTION_NAMES = [
  "custom",
  "type",
  "import",
  "function",
  "table",
  "memory",
  "global",
  "export",
  "start",
  "element",
  "code",
  "data",
  "datacount",
  "tag",
];
const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const SECTION_EXPORT = 7;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Inspects a wasm binary. Components are recognised by their header and not parsed further (their imports are
 * WIT interfaces, and nodewasi refuses them before running). Throws `InvalidArgument` when the bytes are not a
 * well-framed module; `what` names the binary in messages.
 */
export function inspectWasm(bytes: Uint8Array, what = "wasm binary"): WasmInfo {
  const header = readWasmHeader(bytes);
  if ("error" in header) throw invalidArgument(`${what}: ${header.error}`);
  const info: WasmInfo = { kind: header.kind, imports: [], exports: [], wasi: "none", startExport: false };
  if (header.kind === "component") return info;

  const r = new Reader(bytes, what, 8);
  let lastId = 0;
  while (!r.done()) {
    const start = r.pos;
    const id = r.byte();
    if (id >= SECTION_NAMES.length) throw r.fail(`unknown section id ${id} at offset ${start}`);
    const size = r.u32();
    const section = r.sub(size, `section ${id} (${SECTION_NAMES[id]})`);
    if (id !== 0) {
      if (id === lastId) throw r.fail(`duplicate ${SECTION_NAMES[id]} section at offset ${start}`);
      lastId = id;
    }
    if (id === SECTION_IMPORT) readImports(section, info);
    else if (id === SECTION_MEMORY) readMemories(section, info);
    else if (id === SECTION_EXPORT) readExports(section, info);
    else continue;
    if (!section.done())
      throw section.fail(`${section.end - section.pos} unread bytes at the end of the section`);
  }
  const mods = new Set(info.imports.map((i) => i.module));
  info.wasi = mods.has("wasi_snapshot_preview1")
    ? "preview1"
    : mods.has("wasi_unstable")
      ? "unstable"
      : "none";
  info.startExport = info.exports.some((e) => e.name === "_start" && e.kind === "func");
  return info;
}

function readImports(r: Reader, info: WasmInfo): void {
  for (let n = r.count(); n > 0; n--) {
    const module = r.name();
    const name = r.name();
    const kind = r.kind();
    info.imports.push({ module, name, kind });
    if (kind === "func") r.u32();
    else if (kind === "table") {
      r.refType();
      r.limits(true);
    } else if (kind === "memory") {
      const m = r.limits(false);
      info.memory ??= { ...m, imported: true };
    } else if (kind === "global") {
      r.valType();
      r.mutability();
    } else {
      if (r.byte() !== 0) throw r.fail("tag attribute must be 0 (exception)");
      r.u32();
    }
  }
}

function readMemories(r: Reader, info: WasmInfo): void {
  for (let n = r.count(); n > 0; n--) {
    const m = r.limits(false);
    info.memory ??= { ...m, imported: false };
  }
}

function readExports(r: Reader, info: WasmInfo): void {
  for (let n = r.count(); n > 0; n--) {
    const name = r.name();
    const kind = r.kind();
    r.u32();
    info.exports.push({ name, kind });
  }
}

/** A cursor over `[pos, end)` of the binary; every read checks the bound first. */
class Reader {
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
    public pos: number,
    readonly end = bytes.length,
    readonly where = "",
  ) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  fail(why: string): ShimError {
    return invalidArgument(`invalid ${this.what}${this.where && `: ${this.where}`}: ${why}`);
  }

  byte(): number {
    if (this.pos >= this.end) throw this.fail(`truncated at offset ${this.pos}`);
    return this.bytes[this.pos++]!;
  }

  /** An unsigned LEB128 of at most `bits` bits, as the spec bounds it (u32: at most 5 bytes). */
  uleb(bits: 32 | 64): number {
    const at = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < Math.ceil(bits / 7); i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > (bits === 32 ? 0xffffffff : Number.MAX_SAFE_INTEGER)) {
          throw this.fail(`integer at offset ${at} is too large`);
        }
        return result;
      }
      mul *= 128;
    }
    throw this.fail(`integer at offset ${at} is longer than ${Math.ceil(bits / 7)} bytes`);
  }

  u32(): number {
    return this.uleb(32);
  }

  /** A vector length; each element takes at least one byte, so a longer count is a lie about the input. */
  count(): number {
    const at = this.pos;
    const n = this.u32();
    if (n > this.end - this.pos)
      throw this.fail(`count ${n} at offset ${at} exceeds the ${this.end - this.pos} bytes left`);
    return n;
  }

  sub(size: number, where: string): Reader {
    if (size > this.end - this.pos) {
      throw this.fail(
        `${where} at offset ${this.pos} claims ${size} bytes, only ${this.end - this.pos} remain`,
      );
    }
    const r = new Reader(this.bytes, this.what, this.pos, this.pos + size, where);
    this.pos += size;
    return r;
  }

  name(): string {
    const at = this.pos;
    const len = this.u32();
    const s = this.sub(len, this.where);
    try {
      return utf8.decode(this.bytes.subarray(s.pos, s.end));
    } catch {
      throw this.fail(`name at offset ${at} is not valid UTF-8`);
    }
  }

  kind(): ExternKind {
    const b = this.byte();
    const k = KINDS[b];
    if (!k) throw this.fail(`unknown import/export kind 0x${b.toString(16)} at offset ${this.pos - 1}`);
    return k;
  }

  /** Limits: flags bit 0 = has max, bit 1 = shared (threads), bit 2 = 64-bit (memory64 / table64). */
  limits(table: boolean): { min: number; max?: number; shared: boolean; memory64: boolean } {
    const at = this.pos;
    const flags = this.byte();
    if (flags > 7 || (table && flags & 2))
      throw this.fail(`bad limits flags 0x${flags.toString(16)} at offset ${at}`);
    const bits = flags & 4 ? 64 : 32;
    const min = this.uleb(bits);
    const lim: { min: number; max?: number; shared: boolean; memory64: boolean } = {
      min,
      shared: (flags & 2) !== 0,
      memory64: (flags & 4) !== 0,
    };
    if (flags & 1) lim.max = this.uleb(bits);
    if (lim.max !== undefined && lim.max < min)
      throw this.fail(`limits at offset ${at}: max ${lim.max} < min ${min}`);
    return lim;
  }

  /** funcref/externref and the other abstract heap types, or `(ref null? ht)` with a type index (GC proposal). */
  refType(): void {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) this.heapType();
    else if (b < 0x69 || b > 0x74)
      throw this.fail(`bad reference type 0x${b.toString(16)} at offset ${this.pos - 1}`);
  }

  valType(): void {
    const b = this.bytes[this.pos];
    if (b !== undefined && b >= 0x7b && b <= 0x7f) this.pos++;
    else this.refType();
  }

  /** A heap type: an abstract type byte or a signed LEB type index (s33); only its extent matters here. */
  heapType(): void {
    for (let i = 0; i < 5; i++) if ((this.byte() & 0x80) === 0) return;
    throw this.fail(`heap type at offset ${this.pos - 5} is too long`);
  }

  mutability(): void {
    const b = this.byte();
    if (b > 1) throw this.fail(`bad global mutability ${b} at offset ${this.pos - 1}`);
  }
}
