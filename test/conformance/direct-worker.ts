/**
 * The worker thread of a direct run (direct.ts): node:wasi's `start()` is synchronous, so the guest runs here,
 * off the conformance runner's event loop (the shim path and the timeout keep going meanwhile), and a guest
 * that loops forever can be ended with `worker.terminate()`. Still one process: node:wasi in-process, no
 * nodewasi code in between. Pitfalls of reference node-wasi.md avoided as in the shim's runner: dedicated
 * integer fds (§1.7), a fresh WASI per run, preopen fds closed after the run (§1.11).
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { WASI } from "node:wasi";
import { parentPort, workerData } from "node:worker_threads";

/** What direct.ts sends: everything is already on disk. */
export interface DirectJob {
  module: string;
  args: string[];
  env: Record<string, string>;
  root: string;
  stdout: string;
  stderr: string;
}

/** What the worker answers: the exit status, or why the module could not be instantiated. */
export type DirectAnswer = { exitCode: number } | { error: string };

/** The WebAssembly JS API calls used here (the project's `lib` has no WebAssembly declarations). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => object;
    };
  }
).WebAssembly;

function run(job: DirectJob): DirectAnswer {
  const fds: number[] = [];
  const open = (path: string, flags: string) => {
    const fd = openSync(path, flags);
    fds.push(fd);
    return fd;
  };
  try {
    const stdin = open("/dev/null", "r");
    const stdout = open(job.stdout, "w");
    const stderr = open(job.stderr, "w");
    let wasi: WASI;
    let instance: object;
    try {
      wasi = new WASI({
        version: "preview1",
        args: job.args,
        env: job.env,
        preopens: { "/": job.root },
        stdin,
        stdout,
        stderr,
        returnOnExit: true,
      });
      instance = new wasm.Instance(new wasm.Module(readFileSync(job.module)), wasi.getImportObject());
    } catch (err) {
      return { error: `cannot instantiate ${job.module}: ${(err as Error).message}` };
    }
    let exitCode: number;
    try {
      exitCode = wasi.start(instance) & 0xff;
    } catch (e) {
      // DESIGN decision 6, as the shim's runner does it.
      exitCode = 134;
      writeSync(stderr, `Error: wasm trap: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    // node:wasi never closes preopen fds (§1.11); stop after a run of EBADF (errno 8).
    const fdClose = wasi.wasiImport.fd_close as (fd: number) => number;
    for (let fd = 3, misses = 0; misses < 16; fd++) misses = fdClose(fd) === 8 ? misses + 1 : 0;
    return { exitCode };
  } finally {
    for (const fd of fds) {
      try {
        closeSync(fd);
      } catch {
        // The guest closed it with fd_close: uvwasi closes the host fd itself (§1.7.1).
      }
    }
  }
}

if (parentPort) parentPort.postMessage(run(workerData as DirectJob));
