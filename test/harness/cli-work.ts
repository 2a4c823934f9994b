/**
 * What the `nodewasi run` tests share: the real bin/nodewasi in child processes, a temp folder with the state
 * root, the shim socket and an OCI layout of the example test modules (one tag per module), and a way to find
 * and stop a daemon, so no test leaves one behind.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Task } from "../../src/gen/index.js";
import { mountsBelow } from "../../src/internal/index.js";
import { buildImage, writeLayout } from "../../src/oci/index.js";
import { closeClient, createClient } from "../../src/rpc/index.js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const BIN = join(REPO, "bin", "nodewasi");
export const HELLO = `oci:${join(REPO, "examples", "images", "hello")}:latest`;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliWork {
  dir: string;
  root: string;
  address: string;
  /** `oci:DIR:NAME` of a test module packaged as an image, e.g. image("exit-code"). */
  image(name: string): string;
  env: Record<string, string>;
}

/**
 * A temp folder with a layout of examples/modules/<name>.wasm as images tagged <name>. A daemon that a `run`
 * starts exits after `idleTimeout` seconds without a call or a live task: long by default, since a test's
 * commands are separate processes, each of which took seconds to boot on a busy machine (a 5 s daemon went
 * idle between two `ps`); tests of the idle exit give a short one.
 */
export async function makeWork(modules: string[], idleTimeout = 120): Promise<CliWork> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-cli-"));
  const layout = join(dir, "layout");
  const images = [];
  for (const name of modules) {
    const module = await readFile(join(REPO, "examples", "modules", `${name}.wasm`));
    images.push({ image: buildImage({ module, format: "image", entrypoint: `/${name}.wasm` }), tag: name });
  }
  await writeLayout(layout, images);
  const root = join(dir, "root");
  return {
    dir,
    root,
    address: join(dir, "run", "shim.sock"),
    image: (name) => `oci:${layout}:${name}`,
    env: { NODEWASI_ROOT: root, NODEWASI_IDLE_TIMEOUT: String(idleTimeout) },
  };
}

/** Spawns bin/nodewasi with `--address` of `work` (or `opts.address`) before `args`. */
export function spawnCli(work: CliWork, args: string[], opts: { address?: string } = {}): ChildProcess {
  return spawn(process.execPath, [BIN, "--address", opts.address ?? work.address, ...args], {
    env: { ...process.env, ...work.env },
    cwd: REPO,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Runs bin/nodewasi to its end. */
export function cli(
  work: CliWork,
  args: string[],
  opts: { input?: string; address?: string } = {},
): Promise<CliRun> {
  return finished(spawnCli(work, args, opts), opts.input);
}

/** Collects a child's output until it exits. */
export function finished(child: ChildProcess, input?: string): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin?.end(input ?? "");
  return new Promise((done) => child.once("close", (code, signal) => done({ code, signal, stdout, stderr })));
}

/**
 * Polls `check` every 50 ms until it holds; throws naming `what` after `ms`: a bound for a broken case, generous
 * because each `cli()` a check makes boots Node, which a busy machine slows down tenfold.
 */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The pid of the shim serving `address` (Task.Connect), or undefined when none answers. */
export async function shimPid(address: string): Promise<number | undefined> {
  if (!existsSync(address)) return undefined;
  const task = createClient(Task, address, { timeoutMs: 3000 });
  try {
    return (await task.connect({ id: "" })).shimPid;
  } catch {
    return undefined;
  } finally {
    closeClient(task);
  }
}

/** Whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `nodewasi shim serve` on `address` in the foreground, as the integration tests do. */
export function serve(work: CliWork, address: string): ChildProcess {
  return spawn(process.execPath, [BIN, "--root", work.root, "--address", address, "shim", "serve"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * Stops the shim of `work` and removes its folder, with whatever a shim that had to be killed left mounted in
 * it (tasks' overlays, the shared bind of their folder).
 */
export async function removeWork(work: CliWork): Promise<void> {
  await stopShim(work.address);
  // What a killed daemon left mounted: tasks' overlays and the shared bind of their folder (task-rootfs.ts).
  if (existsSync(work.dir)) {
    for (const m of mountsBelow(realpathSync(work.dir))) spawnSync("umount", ["-l", m], { stdio: "ignore" });
  }
  await rm(work.dir, { recursive: true, force: true });
}

/** SIGTERMs the shim on `address` (if any) and waits for it to go. */
export async function stopShim(address: string): Promise<void> {
  const pid = await shimPid(address);
  if (pid === undefined) return;
  process.kill(pid, "SIGTERM");
  await until(`shim ${pid} to exit`, () => !alive(pid), 10_000).catch(() => process.kill(pid, "SIGKILL"));
}
