/**
 * The guest thread of a runner process (see runner-main.ts): loads node:wasi at boot (so a warm runner has
 * paid for it), then runs one spec. Every node:wasi pitfall of reference node-wasi.md is handled here:
 * stdio are dedicated integer fds from `openSync` (§1.7: uvwasi uses the fd itself, a guest `fd_close(1)`
 * closes it; a `FileHandle.fd` is closed on GC), a stdin FIFO is opened blocking (§1.7.3: O_NONBLOCK reaches
 * the guest as EAGAIN; blocking only this thread is fine), and preopen fds are closed after the run (§1.11).
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from "node:fs";
import { WASI } from "node:wasi";
import { parentPort } from "node:worker_threads";
import { Code, ShimError, sha256 } from "../internal/index.js";
import { hookMemoryGrow, OOM_EXPORT } from "./grow-hook.js";
import { guardSymlinks } from "./guest-symlinks.js";
import { capMemory } from "./memory-cap.js";
import { checkPreopens } from "./preopen-check.js";
import { type LogRotation, RotatingLog, rotatingWrites } from "./rotating-log.js";
import type { ChildSpec, ChildStdio, FromRunner } from "./runner-protocol.js";
import { exportStartFunction, withStartFunction } from "./start-section.js";
import { type WasmInstance, type WasmModule, wasm } from "./wasm-api.js";

const port = parentPort;
if (!port) throw new Error("runner-guest.js runs only as the runner's worker thread");
const post = (msg: FromRunner) => port.postMessage(msg);

port.once("message", (spec: ChildSpec) => post(run(spec)));

/**
 * A WASI module of a few bytes, as wat2wasm makes it of:
 * `(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
 * (memory (export "memory") 1) (func (export "_start") (drop (call $w (i32.const 3) (i32.const 0)
 * (i32.const 0) (i32.const 8)))))`: a write to fd 3, which no WASI of prewarm's has (EBADF).
 */
const PREWARM_MODULE =
  "0061736d01000000010c0260047f7f7f7f017f60000002230116776173695f736e617073686f745f70726576696577310866645f77726974650000030201010503010001071302066d656d6f72790200065f737461727400010a0f010d00410341004100410810001a0b";

/**
 * Compiles, instantiates and runs PREWARM_MODULE through a WASI of its own before the runner says `ready`, so
 * that a warm runner has paid what the first module of an isolate pays (V8's wasm engine, node:wasi's binding
 * and its first call: about half of what compiling and running a small module costs in a fresh runner, 10 ms
 * of 20 on a loaded 2-core machine) before a task is waiting for it. It touches no fd and no file.
 */
function prewarm(): void {
  const wasi = new WASI({ version: "preview1", args: [], env: {}, returnOnExit: true });
  const mod = new wasm.Module(Buffer.from(PREWARM_MODULE, "hex"));
  wasi.start(new wasm.Instance(mod, wasi.getImportObject()));
}

prewarm();
post({ type: "ready", pid: 0 });

/** Runs the spec to its end and returns the status to report; `started` is posted once the guest is ready. */
function run(spec: ChildSpec): FromRunner {
  let prepared: Prepared;
  try {
    prepared = prepare(spec);
  } catch (err) {
    const e = ShimError.from(err, Code.FailedPrecondition);
    return { type: "failed", code: e.code, message: e.rawMessage };
  }
  const { wasi, instance, fds, errFd, entry, startExport, logs } = prepared;
  post({ type: "started" });
  // The module's start function, if it had one, runs here as guest code: first thing in _start/_initialize.
  const guest = startExport === undefined ? instance : withStartFunction(instance, startExport);
  let status: FromRunner;
  try {
    if (entry === undefined) {
      status = { type: "exit", code: wasi.start(guest) & 0xff };
    } else {
      wasi.initialize(guest);
      (instance.exports[entry] as () => unknown)();
      status = { type: "exit", code: 0 };
    }
  } catch (err) {
    status = entry !== undefined && typeof err === "symbol" ? exitCodeOf(wasi) : trapped(err, errFd);
  }
  if (status.type === "exit" && hitCap(instance)) status.oom = true;
  // §1.11: preopen fds (and files the guest left open) are never closed by node:wasi. Guest fds from 3 up;
  // stop after a run of EBADF (errno 8) so a guest that closed one preopen does not hide the ones after it.
  for (let fd = 3, misses = 0; misses < 16; fd++) {
    misses = (wasi.wasiImport.fd_close as (fd: number) => number)(fd) === 8 ? misses + 1 : 0;
  }
  for (const log of logs) log.close();
  for (const fd of new Set(fds)) {
    try {
      closeSync(fd);
    } catch {
      // The guest closed it already with fd_close (uvwasi closes the host fd itself, §1.7.1).
    }
  }
  return status;
}

interface Prepared {
  /** Rotating logs the guest writes (their first fds are in `fds`). */
  logs: RotatingLog[];
  wasi: WASI;
  instance: WasmInstance;
  fds: number[];
  errFd: number;
  entry: string | undefined;
  /** The export the module's start function was moved to (start-section.ts), when it had one. */
  startExport: string | undefined;
}

function prepare(spec: ChildSpec): Prepared {
  const what = `module ${spec.moduleName ?? spec.module}`;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(spec.module);
  } catch (cause) {
    throw new ShimError(
      Code.NotFound,
      `${what}: cannot read it (${(cause as Error).message}); check the image's entrypoint`,
      { cause },
    );
  }
  if (spec.moduleDigest !== undefined) {
    const actual = sha256(bytes);
    if (actual !== spec.moduleDigest) {
      throw new ShimError(
        Code.DataLoss,
        `${what}: its bytes hash to ${actual}, not ${spec.moduleDigest}: it was changed or damaged after it was stored; refusing to run it`,
      );
    }
  }
  if (spec.maxPages !== undefined) bytes = capMemory(bytes, spec.maxPages, what);
  const moved = exportStartFunction(bytes);
  if (moved) bytes = moved.bytes;
  let mod: WasmModule;
  try {
    mod = compileWatched(bytes, spec.maxPages !== undefined);
  } catch (cause) {
    throw new ShimError(
      Code.InvalidArgument,
      `${what}: not a valid wasm module: ${(cause as Error).message}`,
      { cause },
    );
  }
  const exports = wasm.Module.exports(mod);
  const has = (name: string, kind: string) => exports.some((e) => e.name === name && e.kind === kind);
  if (!has("memory", "memory")) {
    throw new ShimError(
      Code.InvalidArgument,
      `${what}: exports no memory named "memory", which node:wasi needs`,
    );
  }
  if (spec.entry === undefined && !has("_start", "function")) {
    throw new ShimError(
      Code.InvalidArgument,
      `${what}: exports no _start function (a reactor? name an export with module.wasm#func)`,
    );
  }
  if (spec.entry !== undefined && (has("_start", "function") || !has(spec.entry, "function"))) {
    throw new ShimError(
      Code.InvalidArgument,
      has("_start", "function")
        ? `${what}: #${spec.entry} needs a reactor module, but this one exports _start; run it without #${spec.entry}`
        : `${what}: exports no function ${JSON.stringify(spec.entry)}`,
    );
  }
  checkPreopens(spec.preopens);
  const version = wasm.Module.imports(mod).some((i) => i.module === "wasi_unstable")
    ? "unstable"
    : "preview1";
  const fds: number[] = [];
  const opened = new Map<string, number>();
  const rotating = new Map<number, RotatingLog>();
  const open = (target: ChildStdio, input: boolean): number => {
    const key = JSON.stringify(target);
    const again = opened.get(key);
    if (again !== undefined) return again;
    const log =
      !input && target.kind === "file" && target.rotate ? openLog(target.path, target.rotate) : undefined;
    const fd = log?.fd ?? openTarget(target, input);
    if (log) rotating.set(fd, log);
    opened.set(key, fd);
    fds.push(fd);
    return fd;
  };
  try {
    const stdin = open(spec.stdin, true);
    const stdout = open(spec.stdout, false);
    const stderr = open(spec.stderr, false);
    const wasi = new WASI({
      version,
      args: spec.args,
      env: spec.env,
      preopens: spec.preopens,
      stdin,
      stdout,
      stderr,
      returnOnExit: true,
    });
    const watched = wasm.Module.exports(mod).some((e) => e.name === OOM_EXPORT);
    let instance: WasmInstance | undefined;
    const wasiImports = guardSymlinks(
      wasi.getImportObject() as Parameters<typeof guardSymlinks>[0],
      () => instance,
      spec.preopens,
    );
    // Guest fds 1 and 2 write through their rotating log, when they have one (rotating-log.ts).
    const guestLogs = new Map<number, RotatingLog>();
    for (const [guestFd, hostFd] of [
      [1, stdout],
      [2, stderr],
    ] as const) {
      const log = rotating.get(hostFd);
      if (log) guestLogs.set(guestFd, log);
    }
    const logged = guestLogs.size ? rotatingWrites(wasiImports, () => instance, guestLogs) : wasiImports;
    const imports = watched ? reportingOom(logged, () => instance) : logged;
    checkImports(mod, imports, what);
    instance = new wasm.Instance(mod, imports);
    return {
      wasi,
      instance,
      fds,
      errFd: stderr,
      entry: spec.entry,
      startExport: moved?.name,
      logs: [...rotating.values()],
    };
  } catch (err) {
    for (const log of rotating.values()) log.close();
    for (const fd of fds) closeSync(fd);
    if (err instanceof ShimError) throw err;
    const e = err as Error;
    const code = e instanceof RangeError ? Code.ResourceExhausted : Code.FailedPrecondition;
    throw new ShimError(code, `${what}: cannot instantiate: ${e.message}`, { cause: err });
  }
}

/**
 * Refuses a module that imports what the runner does not give it (anything but WASI preview 1), naming the
 * imports: V8 says only `Import #0 module="env" error: module is not an object or function`.
 */
function checkImports(mod: WasmModule, imports: object, what: string): void {
  const given = imports as Record<string, Record<string, unknown> | undefined>;
  const missing = wasm.Module.imports(mod).filter((i) => {
    const ns = given[i.module];
    return typeof ns !== "object" || ns === null || !Object.hasOwn(ns, i.name);
  });
  if (missing.length === 0) return;
  const named = missing.slice(0, 3).map((i) => `${i.module}.${i.name} (${i.kind})`);
  if (missing.length > 3) named.push(`${missing.length - 3} more`);
  throw new ShimError(
    Code.InvalidArgument,
    `${what}: imports ${named.join(", ")}, which nodewasi cannot provide: a guest is given WASI preview 1 only (wasi_snapshot_preview1 or wasi_unstable); build it for wasm32-wasip1 without other imports (an "env" import is usually a symbol the linker left undefined, or a runtime function of Emscripten or wasm-bindgen, which need their own JavaScript)`,
    { details: { imports: missing.map((i) => `${i.module}.${i.name}`) } },
  );
}

/**
 * A capped module is compiled with its `memory.grow`s watched (grow-hook.ts), for the OOM report; should the
 * rewrite not compile, the capped module runs unwatched rather than not at all.
 */
function compileWatched(bytes: Uint8Array, capped: boolean): WasmModule {
  const hooked = capped ? hookMemoryGrow(bytes) : undefined;
  if (hooked) {
    try {
      return new wasm.Module(hooked);
    } catch {}
  }
  return new wasm.Module(bytes);
}

/**
 * The WASI imports of a watched guest, each checking first whether a `memory.grow` failed since the last host
 * call: the shim hears of it at once (`oom`, posted once) while the guest goes on; a guest that never calls
 * the host again is reported at its exit. The imports are node:wasi's bound functions, called unchanged.
 */
function reportingOom(imports: object, instance: () => WasmInstance | undefined): object {
  let reported = false;
  const check = () => {
    const i = instance();
    if (reported || !i || !hitCap(i)) return;
    reported = true;
    post({ type: "oom" });
  };
  const out: Record<string, Record<string, unknown>> = {};
  for (const [ns, fns] of Object.entries(imports)) {
    out[ns] = {};
    for (const [name, fn] of Object.entries(fns as Record<string, unknown>)) {
      out[ns][name] =
        typeof fn === "function"
          ? (...args: unknown[]) => {
              check();
              return (fn as (...a: unknown[]) => unknown)(...args);
            }
          : fn;
    }
  }
  return out;
}

/** Whether a watched guest's `memory.grow` failed (its memory cap was hit). */
function hitCap(instance: WasmInstance): boolean {
  return (instance.exports[OOM_EXPORT] as { value?: unknown } | undefined)?.value === 1;
}

/** Opens a rotating log (a `file://` target with a cap), worded as openTarget words its failures. */
function openLog(path: string, rotation: LogRotation): RotatingLog {
  try {
    return new RotatingLog(path, rotation);
  } catch (cause) {
    throw new ShimError(
      Code.NotFound,
      `stdout/stderr file ${path}: cannot open it (${(cause as Error).message}); check that its folder exists and that it is no symlink (a rotated log is never followed through one)`,
      { cause },
    );
  }
}

/** Opens one stream for the guest. FIFOs open without O_CREAT (a missing FIFO is an error, not a new file). */
function openTarget(t: ChildStdio, input: boolean): number {
  if (t.kind === "fd") return t.fd;
  const path = t.kind === "null" ? "/dev/null" : t.path;
  const flags = input
    ? constants.O_RDONLY
    : t.kind === "file"
      ? constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT
      : constants.O_WRONLY;
  try {
    return openSync(path, flags, 0o644);
  } catch (cause) {
    throw new ShimError(
      Code.NotFound,
      `${input ? "stdin" : "stdout/stderr"} ${t.kind} ${path}: cannot open it (${(cause as Error).message}); create it before starting the task`,
      { cause },
    );
  }
}

/** Decision 6: a trap is status 134 and `Error: wasm trap: <message>` on the guest's own stderr. */
function trapped(err: unknown, errFd: number): FromRunner {
  const message = err instanceof Error ? err.message : String(err);
  try {
    writeSync(errFd, `Error: wasm trap: ${message}\n`);
  } catch {
    // The guest closed its stderr; the status still carries the message.
  }
  const oom = err instanceof RangeError && /memory/i.test(message);
  return oom ? { type: "exit", code: 134, trap: message, oom } : { type: "exit", code: 134, trap: message };
}

/**
 * `proc_exit` inside an export called after `initialize()`: node:wasi throws its private symbol and keeps
 * the code on a symbol-keyed field (start() would catch both); read it back by the symbol's description.
 */
function exitCodeOf(wasi: WASI): FromRunner {
  const key = Object.getOwnPropertySymbols(wasi).find((s) => s.description === "kExitCode");
  const code = key === undefined ? 0 : Number((wasi as unknown as Record<symbol, unknown>)[key]);
  return { type: "exit", code: code & 0xff };
}
