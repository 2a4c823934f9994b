/**
 * Helpers for the Task API tests: an OCI layout holding one image per test module (examples/modules), the
 * CreateOptions Any that makes the shim run one, stdio files and FIFOs, and a whole create-start-wait-delete
 * run that returns the exit status and what the guest wrote.
 */
import { execFileSync } from "node:child_process";
import { constants as fsc, openSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Any, anyPack, timestampDate } from "@bufbuild/protobuf/wkt";
import { CreateOptionsSchema, Task } from "../../src/gen/index.js";
import { buildImage, writeLayout } from "../../src/oci/index.js";
import type { Client } from "../../src/rpc/index.js";
import { REPO_ROOT, type ShimHandle, type ShimOptions, startShim } from "./shim.js";

/** examples/modules of the checkout. */
export const MODULES_DIR = join(REPO_ROOT, "examples", "modules");

export type TestModule =
  | "echo-args"
  | "print-env"
  | "cat-stdin"
  | "exit-code"
  | "trap"
  | "busy-loop"
  | "sleep-ms"
  | "grow-memory"
  | "write-bytes"
  | "read-file"
  | "escape-probe"
  | "start-loop";

export const TEST_MODULES: readonly TestModule[] = [
  "echo-args",
  "print-env",
  "cat-stdin",
  "exit-code",
  "trap",
  "busy-loop",
  "sleep-ms",
  "grow-memory",
  "write-bytes",
  "read-file",
  "escape-probe",
  "start-loop",
];

/** A fresh temp dir (the caller removes it). */
export function tempDir(prefix = "nodewasi-task-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * Writes an OCI layout at `dir` with one image per module, tagged with the module's name, entrypoint
 * `/NAME.wasm`, plus `toolbox`: entrypoint `/sleep-ms.wasm` with every other module of `names` beside it in
 * the rootfs (for Exec). Returns the reference of an image (`oci:DIR:TAG`).
 */
export async function writeModuleLayout(
  dir: string,
  names: readonly TestModule[] = TEST_MODULES,
): Promise<(tag: TestModule | "toolbox") => string> {
  const images = [];
  const files = [];
  for (const name of names) {
    const module = await readFile(join(MODULES_DIR, `${name}.wasm`));
    images.push({ image: buildImage({ module, format: "image", entrypoint: `/${name}.wasm` }), tag: name });
    if (name !== "sleep-ms") files.push({ path: `${name}.wasm`, data: module, mode: 0o755 });
  }
  const sleep = await readFile(join(MODULES_DIR, "sleep-ms.wasm"));
  const toolbox = buildImage({ module: sleep, format: "image", entrypoint: "/sleep-ms.wasm", files });
  images.push({ image: toolbox, tag: "toolbox" });
  await writeLayout(dir, images);
  return (tag) => `oci:${dir}:${tag}`;
}

/** `CreateTaskRequest.options`: nodewasi.v1.CreateOptions for `image`, packed in an Any. */
export function imageOptions(image: string, init: MessageInitShape<typeof CreateOptionsSchema> = {}): Any {
  const options = create(CreateOptionsSchema, init);
  options.image = image;
  return anyPack(CreateOptionsSchema, options);
}

/** Whether bubblewrap can make its namespaces here (the isolation tests need it). */
export function bwrapWorks(): boolean {
  try {
    execFileSync("bwrap", ["--ro-bind", "/", "/", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Makes a FIFO at `path`. */
export function mkfifo(path: string): void {
  execFileSync("mkfifo", ["-m", "0600", path]);
}

/**
 * Opens the read end of the FIFO at `path` without blocking (no writer yet) as a socket: data arrives as the
 * guest writes, and `end` once every writer has closed.
 */
export async function fifoReader(path: string): Promise<Socket> {
  // A plain fd, owned by the socket from here (a FileHandle would close it when garbage collected).
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  return new Socket({ fd, readable: true, writable: false });
}

export interface TaskRun {
  exitStatus: number;
  exitedAt: Date;
  stdout: string;
  stderr: string;
  pid: number;
}

export interface RunOptions {
  /** Guest arguments after argv[0]. */
  args?: string[];
  env?: string[];
  memoryLimit?: bigint;
  /** Host directories the guest sees at `destination`. */
  mounts?: { source: string; destination: string }[];
}

/**
 * Create (stdout and stderr to files), Wait before Start, Start, Wait, Delete: the guest's exit status and
 * output. Asserts nothing itself; Delete's exit status must equal Wait's or it throws.
 */
export async function runTask(
  task: Client<typeof Task>,
  id: string,
  image: string,
  opts: RunOptions = {},
): Promise<TaskRun> {
  const dir = await tempDir("nodewasi-run-");
  try {
    const stdout = join(dir, "out");
    const stderr = join(dir, "err");
    await task.create({
      id,
      stdout: `file://${stdout}`,
      stderr: `file://${stderr}`,
      options: imageOptions(image, {
        args: opts.args ?? [],
        env: opts.env ?? [],
        mounts: opts.mounts ?? [],
        ...(opts.memoryLimit !== undefined ? { memoryLimit: opts.memoryLimit } : {}),
      }),
    });
    const waiting = task.wait({ id });
    // Awaited below; a Start that fails first must not leave its rejection unhandled (with a short client
    // deadline on a loaded machine it crashed \`npm run conformance\`: "Deadline exceeded", no report).
    waiting.catch(() => {});
    const { pid } = await task.start({ id });
    const exit = await waiting;
    const deleted = await task.delete({ id });
    if (deleted.exitStatus !== exit.exitStatus) {
      throw new Error(`${id}: Delete says ${deleted.exitStatus}, Wait said ${exit.exitStatus}`);
    }
    return {
      exitStatus: exit.exitStatus,
      exitedAt: exit.exitedAt ? timestampDate(exit.exitedAt) : new Date(0),
      stdout: await readFile(stdout, "utf8").catch(() => ""),
      stderr: await readFile(stderr, "utf8").catch(() => ""),
      pid,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resolves once `check` returns true (polled every 20 ms), rejects after `ms` with `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a task test file shares: a shim process, its Task client, a temp dir, and a layout of test modules. */
export interface ShimSuite {
  shim: ShimHandle;
  task: Client<typeof Task>;
  dir: string;
  ref: Awaited<ReturnType<typeof writeModuleLayout>>;
}

/** Sets up a file's shared shim (call in `before`); `stopShimSuite` in `after` takes it down. */
export async function startShimSuite(
  modules?: readonly TestModule[],
  opts: ShimOptions = {},
  timeoutMs = 30_000,
): Promise<ShimSuite> {
  const dir = await tempDir();
  const ref = await writeModuleLayout(join(dir, "layout"), modules);
  const shim = await startShim(opts);
  return { shim, task: shim.client(Task, { timeoutMs }), dir, ref };
}

/** Stops the shim and removes the temp dir of `startShimSuite` (either may be missing if it failed). */
export async function stopShimSuite(s: {
  shim?: ShimHandle | undefined;
  dir?: string | undefined;
}): Promise<void> {
  await s.shim?.stop();
  if (s.dir) await rm(s.dir, { recursive: true, force: true });
}
