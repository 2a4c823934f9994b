/**
 * Seeing a guest hit its memory cap, for containerd's `/tasks/oom` (reference containerd-shim-protocol.md §5).
 * A capped module (memory-cap.ts) that asks for more memory gets -1 from `memory.grow`, silently: V8 tells
 * the host nothing. So every `memory.grow` of memory 0 is rewritten into a call to one appended function that
 * grows and, when growth fails, sets an appended exported i32 global (`OOM_EXPORT`) to 1; the guest still gets
 * -1 and decides what to do, as a process whose allocation fails in a memory cgroup does. The runner
 * (runner-guest.ts) reads the global before each WASI call and at exit. Appending (a type,
 * a function, a global, an export) shifts no existing index, so nothing else in the module changes.
 *
 * Finding the instructions needs a decoder that knows every opcode's immediates (a byte 0x40 is also a block
 * type or part of a constant). It covers the MVP and the extensions clang and rustc emit (sign extension, bulk
 * memory, SIMD, threads, tail calls, exceptions without `try_table`); on anything else it gives up and the
 * module runs capped but unwatched (`hookMemoryGrow` returns undefined).
 */

import { uleb } from "./leb128.js";

/** The exported global a hooked module sets to 1 when a `memory.grow` failed. */
export const OOM_EXPORT = "__nodewasi_oom";

const TYPE = 1;
const IMPORT = 2;
const FUNCTION = 3;
const GLOBAL = 6;
const EXPORT = 7;
const CODE = 10;
/** Section order in a module (custom sections, id 0, may sit anywhere). */
const ORDER: Record<number, number> = {
  1: 1,
  2: 2,
  3: 3,
  4: 4,
  5: 5,
  13: 6,
  6: 7,
  7: 8,
  8: 9,
  9: 10,
  12: 11,
  10: 12,
  11: 13,
};

class Unsupported extends Error {}

class Reader {
  constructor(
    readonly b: Uint8Array,
    public pos: number,
  ) {}
  byte(): number {
    if (this.pos >= this.b.length) throw new Unsupported("truncated");
    return this.b[this.pos++]!;
  }
  /** An unsigned LEB128 (up to 2^53). */
  u32(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new Unsupported("LEB128 too long");
  }
  /** Skips a LEB128 of any sign and length. */
  leb(): void {
    while (this.byte() & 0x80) {}
  }
  skip(n: number): void {
    this.pos += n;
    if (this.pos > this.b.length) throw new Unsupported("truncated");
  }
  name(): void {
    this.skip(this.u32());
  }
}

interface Section {
  id: number;
  /** The whole section, header included. */
  start: number;
  bodyStart: number;
  end: number;
}

/**
 * Returns `bytes` with every `memory.grow 0` reporting failure through the exported global `OOM_EXPORT`, or
 * undefined when the module has no code or uses an instruction this decoder does not know.
 */
export function hookMemoryGrow(bytes: Uint8Array): Uint8Array | undefined {
  try {
    return hook(bytes);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

function hook(bytes: Uint8Array): Uint8Array | undefined {
  const sections: Section[] = [];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const bodyStart = r.pos;
    r.skip(size);
    sections.push({ id, start, bodyStart, end: r.pos });
  }
  const find = (id: number) => sections.find((s) => s.id === id);
  const code = find(CODE);
  const funcs = find(FUNCTION);
  if (!code || !funcs) return undefined;
  const counted = (id: number) => {
    const s = find(id);
    return s ? new Reader(bytes, s.bodyStart).u32() : 0;
  };
  const imported = countImports(bytes, find(IMPORT));
  const typeIndex = counted(TYPE);
  const hookIndex = imported.funcs + counted(FUNCTION);
  const globalIndex = imported.globals + counted(GLOBAL);

  const hookBody = [
    ...[1, 1, 0x7f], // one i32 local
    ...[0x20, 0, 0x40, 0, 0x22, 1], // local.get 0; memory.grow 0; local.tee 1
    ...[0x41, 0x7f, 0x46, 0x04, 0x40], // i32.const -1; i32.eq; if
    ...[0x41, 1, 0x24, ...uleb(globalIndex), 0x0b], // i32.const 1; global.set; end
    ...[0x20, 1, 0x0b], // local.get 1; end
  ];
  const appended: Record<number, number[]> = {
    [TYPE]: [0x60, 1, 0x7f, 1, 0x7f],
    [FUNCTION]: uleb(typeIndex),
    [GLOBAL]: [0x7f, 1, 0x41, 0, 0x0b],
    [EXPORT]: [...uleb(OOM_EXPORT.length), ...Buffer.from(OOM_EXPORT), 3, ...uleb(globalIndex)],
  };
  const out: number[][] = [Array.from(bytes.subarray(0, 8))];
  const emit = (id: number, body: number[]) => out.push([id, ...uleb(body.length)], body);
  const added = new Set<number>();
  const addMissing = (before: number) => {
    for (const id of [TYPE, GLOBAL, EXPORT]) {
      if (!find(id) && !added.has(id) && ORDER[id]! < before) {
        added.add(id);
        emit(id, [1, ...appended[id]!]);
      }
    }
  };
  for (const s of sections) {
    if (s.id !== 0) addMissing(ORDER[s.id] ?? 99);
    if (s.id === CODE) emit(CODE, rewriteCode(bytes, s, hookIndex, hookBody));
    else if (appended[s.id]) emit(s.id, appendEntry(bytes, s, appended[s.id]!));
    else out.push(Array.from(bytes.subarray(s.start, s.end)));
  }
  addMissing(99);
  return Uint8Array.from(out.flat());
}

/** Imported functions and globals: they come first in their index spaces. */
function countImports(bytes: Uint8Array, s: Section | undefined): { funcs: number; globals: number } {
  const n = { funcs: 0, globals: 0 };
  if (!s) return n;
  const r = new Reader(bytes, s.bodyStart);
  for (let count = r.u32(); count > 0; count--) {
    r.name();
    r.name();
    const kind = r.byte();
    if (kind === 0) {
      n.funcs++;
      r.u32();
    } else if (kind === 1) {
      r.byte(); // reftype
      limits(r);
    } else if (kind === 2) limits(r);
    else if (kind === 3) {
      n.globals++;
      valtype(r);
      r.byte();
    } else if (kind === 4) {
      r.byte();
      r.u32();
    } else throw new Unsupported(`import kind ${kind}`);
  }
  return n;
}

function limits(r: Reader): void {
  const flags = r.byte();
  r.u32();
  if (flags & 1) r.u32();
}

function valtype(r: Reader): void {
  const t = r.byte();
  if (t === 0x63 || t === 0x64) throw new Unsupported("typed references");
}

/** A vector section's body with one more entry at its end. */
function appendEntry(bytes: Uint8Array, s: Section, entry: number[]): number[] {
  const r = new Reader(bytes, s.bodyStart);
  const count = r.u32();
  return [...uleb(count + 1), ...bytes.subarray(r.pos, s.end), ...entry];
}

function rewriteCode(bytes: Uint8Array, s: Section, hookIndex: number, hookBody: number[]): number[] {
  const r = new Reader(bytes, s.bodyStart);
  const count = r.u32();
  const body: number[] = [...uleb(count + 1)];
  const call = [0x10, ...uleb(hookIndex)];
  for (let i = 0; i < count; i++) {
    const size = r.u32();
    const end = r.pos + size;
    const fn: number[] = [];
    const locals = r.pos;
    for (let groups = r.u32(); groups > 0; groups--) {
      r.u32();
      valtype(r);
    }
    fn.push(...bytes.subarray(locals, r.pos));
    while (r.pos < end) {
      const at = r.pos;
      if (bytes[at] === 0x40 && bytes[at + 1] === 0) {
        r.skip(2);
        fn.push(...call);
        continue;
      }
      skipInstruction(r);
      fn.push(...bytes.subarray(at, r.pos));
    }
    if (r.pos !== end) throw new Unsupported("function body overrun");
    body.push(...uleb(fn.length), ...fn);
  }
  body.push(...uleb(hookBody.length), ...hookBody);
  return body;
}

const NO_IMMEDIATE = new Set([0x00, 0x01, 0x05, 0x0b, 0x0f, 0x19, 0x1a, 0x1b, 0xd1, 0xd3, 0xd4]);
const ONE_INDEX = new Set([
  0x07, 0x08, 0x09, 0x0c, 0x0d, 0x10, 0x12, 0x18, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xd2, 0xd5, 0xd6,
]);

function memarg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) r.u32(); // multi-memory: a memory index follows
  r.u32();
}

function skipInstruction(r: Reader): void {
  const op = r.byte();
  if (NO_IMMEDIATE.has(op) || (op >= 0x45 && op <= 0xc4)) return;
  if (ONE_INDEX.has(op)) r.u32();
  else if (op >= 0x28 && op <= 0x3e) memarg(r);
  else if (op === 0x02 || op === 0x03 || op === 0x04 || op === 0x06) {
    const t = r.b[r.pos];
    if (t === 0x63 || t === 0x64) throw new Unsupported("typed reference block type");
    r.leb(); // 0x40, a value type, or an s33 type index
  } else if (op === 0x0e) {
    for (let n = r.u32() + 1; n > 0; n--) r.u32();
  } else if (op === 0x11 || op === 0x13) {
    r.u32();
    r.u32();
  } else if (op === 0x1c) {
    for (let n = r.u32(); n > 0; n--) valtype(r);
  } else if (op === 0x3f || op === 0x40) r.u32();
  else if (op === 0x41 || op === 0x42 || op === 0xd0) r.leb();
  else if (op === 0x43) r.skip(4);
  else if (op === 0x44) r.skip(8);
  else if (op === 0xfc) prefixedFC(r);
  else if (op === 0xfd) prefixedSimd(r);
  else if (op === 0xfe) {
    if (r.u32() === 0x03)
      r.byte(); // atomic.fence
    else memarg(r);
  } else throw new Unsupported(`opcode 0x${op.toString(16)}`);
}

/** 0xFC: saturating truncations, bulk memory and table instructions. */
function prefixedFC(r: Reader): void {
  const sub = r.u32();
  if (sub <= 7) return;
  if (sub === 8 || sub === 10 || sub === 12 || sub === 14) {
    r.u32();
    r.u32();
  } else if (sub === 9 || sub === 11 || sub === 13 || (sub >= 15 && sub <= 17)) r.u32();
  else throw new Unsupported(`opcode 0xfc ${sub}`);
}

/** 0xFD: SIMD; loads and stores take a memarg, lane instructions a lane byte, constants 16 bytes. */
function prefixedSimd(r: Reader): void {
  const sub = r.u32();
  if (sub <= 11 || sub === 92 || sub === 93) memarg(r);
  else if (sub >= 84 && sub <= 91) {
    memarg(r);
    r.skip(1);
  } else if (sub === 12 || sub === 13) r.skip(16);
  else if (sub >= 21 && sub <= 34) r.skip(1);
}
