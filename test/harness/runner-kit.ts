/**
 * Helpers for the runner's tests (src/wasi): the test modules of examples/modules, temp
 * dirs, real FIFOs made with coreutils' `mkfifo`, and a FIFO reader as the shim's peers read them.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, open as openCb, readdirSync, readFileSync, rmSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { uleb } from "../../src/wasi/leb128.js";
import type { RunSpec } from "../../src/wasi/runner.js";

const openFd = promisify(openCb);

/** Absolute path of examples/modules/NAME.wasm (this file runs from dist/test/harness). */
export function testModule(name: string): string {
  return fileURLToPath(new URL(`../../../examples/modules/${name}.wasm`, import.meta.url));
}

/** A fresh temp dir and its removal. */
export function tempDir(prefix = "nodewasi-runner-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Makes a FIFO at `path` with mkfifo(1) and returns the path. */
export function mkfifo(path: string): string {
  execFileSync("mkfifo", ["-m", "0600", path]);
  return path;
}

/**
 * Reads a FIFO to EOF. The open blocks (in the threadpool) until the runner opens the write end, so call this
 * BEFORE `start()`, which waits for the guest's stdio to be open. Reads through a libuv pipe handle, not a read
 * stream (reference node-wasi.md §1.7.4: `createReadStream` on a FIFO hung the process at exit). `first`
 * resolves with the first chunk, while the writer may still run.
 */
export function readFifoChunks(path: string): { first: Promise<Buffer>; all: Promise<Buffer> } {
  let gotFirst: (b: Buffer) => void = () => {};
  const first = new Promise<Buffer>((resolve) => {
    gotFirst = resolve;
  });
  const all = (async () => {
    const fd = await openFd(path, "r");
    const sock = new Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    for await (const c of sock) {
      if (chunks.length === 0) gotFirst(c as Buffer);
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks);
    gotFirst(body);
    return body;
  })();
  return { first, all };
}

/** `readFifoChunks(path).all`. */
export function readFifo(path: string): Promise<Buffer> {
  return readFifoChunks(path).all;
}

/** Opens the write end of a FIFO (resolves once the guest opened the read end). */
export function openFifoWriter(path: string): Promise<number> {
  return openFd(path, "w");
}

/** A spec for a test module with stdio on /dev/null; override what the test needs. */
export function specFor(name: string, args: string[] = [], over: Partial<RunSpec> = {}): RunSpec {
  return {
    module: testModule(name),
    args: [name, ...args],
    env: {},
    preopens: {},
    stdin: { kind: "null" },
    stdout: { kind: "null" },
    stderr: { kind: "null" },
    ...over,
  };
}

/** Bytes `from` to `to` of what write-bytes.c writes: byte i = (i * 7 + i / 251) & 0xff. */
export function writeBytesPattern(to: number, from = 0): Buffer {
  const out = Buffer.alloc(to - from);
  for (let i = from; i < to; i++) out[i - from] = (i * 7 + Math.floor(i / 251)) & 0xff;
  return out;
}

/** Open fds of this process. */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Pids of this process's direct children (from every thread's /proc children list). */
export function childPids(): number[] {
  const pids: number[] = [];
  for (const tid of readdirSync("/proc/self/task")) {
    const text = readFileSync(`/proc/self/task/${tid}/children`, "utf8").trim();
    if (text) pids.push(...text.split(/\s+/).map(Number));
  }
  return pids.sort((a, b) => a - b);
}

/** A wasm module from its sections, each given as `[id, ...body]` (the size is filled in). */
export function wasmModule(...sections: number[][]): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  for (const [id, ...body] of sections) out.push(id!, ...uleb(body.length), ...body);
  return Uint8Array.from(out);
}

/** A name as the wasm format writes it (imports, exports). */
export function wasmName(s: string): number[] {
  const bytes = Buffer.from(s);
  return [...uleb(bytes.length), ...bytes];
}
