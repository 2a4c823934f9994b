/**
 * The reference run: the module under node:wasi in this process (on a worker thread, direct-worker.ts),
 * nothing of nodewasi in between. The inputs are the ones the shim gets: argv `[/NAME.wasm, ...args]`,
 * exactly the spec's environment, the same tree preopened as `/`, stdin from /dev/null, stdout and stderr to
 * files. The exit status follows DESIGN decision 6 as the shim does (`proc_exit(n)` -> `n & 0xff`, a trap ->
 * 134 with `Error: wasm trap: MESSAGE` on stderr), so the two runs can be compared byte for byte.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { DirectAnswer, DirectJob } from "./direct-worker.js";
import type { ConformanceCase } from "./suite.js";
import { modulePath, type TreeEntry, writeTree } from "./tree.js";

/** What a run produced. */
export interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const WORKER = new URL("./direct-worker.js", import.meta.url);

/**
 * Runs `c` with node:wasi in this process. Throws when the module cannot be instantiated, or when the guest
 * has not exited after `timeoutMs` (the worker is then terminated).
 */
export async function runDirect(
  c: ConformanceCase,
  tree: readonly TreeEntry[],
  timeoutMs: number,
): Promise<Outcome> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-conformance-"));
  try {
    const job: DirectJob = {
      module: c.module,
      args: [modulePath(c), ...c.spec.args],
      env: c.spec.env,
      root: join(dir, "root"),
      stdout: join(dir, "stdout"),
      stderr: join(dir, "stderr"),
    };
    await mkdir(job.root);
    await writeTree(job.root, c, tree);
    const answer = await inWorker(job, timeoutMs);
    if ("error" in answer) throw new Error(answer.error);
    return {
      exitCode: answer.exitCode,
      stdout: await readFile(job.stdout, "utf8"),
      stderr: await readFile(job.stderr, "utf8"),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function inWorker(job: DirectJob, timeoutMs: number): Promise<DirectAnswer> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: job });
    const timer = setTimeout(() => {
      // Ends a guest looping in wasm; one blocked in a host call ends when that call returns (§1.8).
      void worker.terminate();
      reject(new Error(`timed out after ${timeoutMs / 1000} s under node:wasi`));
    }, timeoutMs);
    worker.once("message", (answer: DirectAnswer) => {
      clearTimeout(timer);
      resolve(answer);
    });
    worker.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    worker.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the node:wasi worker exited (${code}) without an answer`));
    });
  });
}
