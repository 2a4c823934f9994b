/**
 * A module's start function runs as guest code, not inside instantiation (issue 10 item 1). The wasm start
 * section makes `new WebAssembly.Instance` call a function before it returns: a start function that loops
 * (or just runs long) kept the runner from ever saying `started`, so the task's Start never returned, the task
 * stayed CREATED and a Kill of it found no process to signal. So the start section is taken out and its
 * function exported under a name of ours (START_EXPORT); the runner instantiates, reports the guest started,
 * and then calls that export before `_start` (or `_initialize`), which is the order instantiation would have
 * kept. It also runs with node:wasi's memory set, so a start function may call WASI, as under wasmtime.
 *
 * Only a module with a start section pays for the rewrite (one copy of its bytes); any other is left as it is,
 * after a walk over its section headers. A malformed module is left as it is too: compiling it says what is
 * wrong with it.
 */
import { readUleb, uleb } from "./leb128.js";
import type { WasmInstance } from "./wasm-api.js";

/** The export the start function is moved to (another name when the module already exports this one). */
export const START_EXPORT = "__nodewasi_start";

const EXPORT = 7;
const START = 8;

interface Section {
  /** The whole section, header included: [start, end). */
  start: number;
  body: number;
  end: number;
}

/**
 * `bytes` without their start section and with its function exported under `name` (START_EXPORT unless the
 * module exports that already), or undefined when the module has no start section (or its sections cannot
 * be walked).
 */
export function exportStartFunction(bytes: Uint8Array): { bytes: Uint8Array; name: string } | undefined {
  let exports: Section | undefined;
  let start: Section | undefined;
  for (let pos = 8; pos < bytes.length; ) {
    const id = bytes[pos]!;
    const size = readUleb(bytes, pos + 1);
    if (!size || size.next + size.value > bytes.length) return undefined;
    const section = { start: pos, body: size.next, end: size.next + size.value };
    if (id === EXPORT) exports = section;
    else if (id === START) start = section;
    pos = section.end;
  }
  const func = start && readUleb(bytes, start.body);
  if (!start || !func || (exports && exports.end > start.start)) return undefined;
  const names = exports ? exportNames(bytes, exports) : { count: 0, entries: undefined, taken: new Set() };
  if (!names) return undefined;
  let name = START_EXPORT;
  for (let n = 2; names.taken.has(name); n++) name = `${START_EXPORT}${n}`;
  const encoded = Buffer.from(name);
  const entry = [...uleb(encoded.length), ...encoded, 0x00, ...uleb(func.value)];
  const body = Buffer.concat([
    Uint8Array.from(uleb(names.count + 1)),
    names.entries ? bytes.subarray(names.entries.body, names.entries.end) : new Uint8Array(),
    Uint8Array.from(entry),
  ]);
  const section = Buffer.concat([Uint8Array.from([EXPORT, ...uleb(body.length)]), body]);
  // The export section sits just before the start section in a module (ids 7 and 8 are adjacent in the
  // section order), so a new one takes the start section's place.
  const before = exports ?? { start: start.start, end: start.start };
  const out = Buffer.concat([
    bytes.subarray(0, before.start),
    section,
    bytes.subarray(before.end, start.start),
    bytes.subarray(start.end),
  ]);
  return { bytes: out, name };
}

/** The export section's entry count, the bytes of its entries, and the names they take. */
function exportNames(
  bytes: Uint8Array,
  s: Section,
): { count: number; entries: Section; taken: Set<string> } | undefined {
  const count = readUleb(bytes, s.body);
  if (!count) return undefined;
  const taken = new Set<string>();
  let pos = count.next;
  for (let i = 0; i < count.value; i++) {
    const len = readUleb(bytes, pos);
    if (!len || len.next + len.value + 1 > s.end) return undefined;
    taken.add(Buffer.from(bytes.subarray(len.next, len.next + len.value)).toString("utf8"));
    const index = readUleb(bytes, len.next + len.value + 1);
    if (!index) return undefined;
    pos = index.next;
  }
  return { count: count.value, entries: { start: s.start, body: count.next, end: s.end }, taken };
}

/**
 * `instance` as node:wasi should be given it when its module's start function was exported as `name`
 * (exportStartFunction): its `_start`, or for a reactor its `_initialize` (added when it has none), first
 * calls the start function, and that export is not shown.
 */
export function withStartFunction(instance: WasmInstance, name: string): WasmInstance {
  const start = instance.exports[name];
  if (typeof start !== "function") return instance;
  const exports: Record<string, unknown> = { ...instance.exports };
  delete exports[name];
  const first =
    (then: unknown) =>
    (...args: unknown[]): unknown => {
      start();
      return typeof then === "function" ? then(...args) : undefined;
    };
  if (typeof exports._start === "function") exports._start = first(exports._start);
  else exports._initialize = first(exports._initialize);
  return { exports };
}
