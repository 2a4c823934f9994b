/**
 * The reference run: the module under node:wasi in this process, nothing of nodewasi in between. The inputs
 * are the ones the shim gets: argv `[/NAME.wasm, ...args]`, exactly the spec's environment, the same tree
 * preopened as `/`, stdin from /dev/null, stdout and stderr to files. The exit status follows DESIGN decision
 * 6 as the shim does (`proc_exit(n)` -> `n & 0xff`, a trap -> 134 with `Error: wasm trap: MESSAGE` on
 * stderr), so the two runs can be compared byte for byte. node:wasi pitfalls (reference node-wasi.md §1.7,
 * §1.11) are avoided here as in the runner: dedicated integer fds, a fresh WASI per run, preopen fds closed.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WASI } from "node:wasi";
import type { ConformanceCase } from "./suite.js";
import { modulePath, type TreeEntry, writeTree } from "./tree.js";

/** What a run produced. */
export interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The WebAssembly JS API calls used here (the project's `lib` has no WebAssembly declarations). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: object }>;
    };
  }
).WebAssembly;

/** Runs `c` with node:wasi in this process; throws only when the module cannot be instantiated. */
export async function runDirect(c: ConformanceCase, tree: readonly TreeEntry[]): Promise<Outcome> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-conformance-"));
  const fds: number[] = [];
  try {
    const root = join(dir, "root");
    await mkdir(root);
    await writeTree(root, c, tree);
    const out = join(dir, "stdout");
    const err = join(dir, "stderr");
    const open = (path: string, flags: string) => {
      const fd = openSync(path, flags);
      fds.push(fd);
      return fd;
    };
    const stdin = open("/dev/null", "r");
    const stdout = open(out, "w");
    const stderr = open(err, "w");
    const wasi = new WASI({
      version: "preview1",
      args: [modulePath(c), ...c.spec.args],
      env: c.spec.env,
      preopens: { "/": root },
      stdin,
      stdout,
      stderr,
      returnOnExit: true,
    });
    const { instance } = await wasm.instantiate(await readFile(c.module), wasi.getImportObject());
    let exitCode: number;
    try {
      exitCode = wasi.start(instance) & 0xff;
    } catch (e) {
      exitCode = 134;
      writeSync(stderr, `Error: wasm trap: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    // node:wasi never closes preopen fds (node-wasi.md §1.11); stop after a run of EBADF (errno 8).
    const fdClose = wasi.wasiImport.fd_close as (fd: number) => number;
    for (let fd = 3, misses = 0; misses < 16; fd++) misses = fdClose(fd) === 8 ? misses + 1 : 0;
    closeAll(fds);
    return { exitCode, stdout: await readFile(out, "utf8"), stderr: await readFile(err, "utf8") };
  } finally {
    closeAll(fds);
    await rm(dir, { recursive: true, force: true });
  }
}

function closeAll(fds: number[]): void {
  for (const fd of fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // The guest closed it with fd_close: uvwasi closes the host fd itself (node-wasi.md §1.7.1).
    }
  }
}
