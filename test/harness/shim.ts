/**
 * A real shim process for the Task API tests: `startShim()` spawns `bin/nodewasi shim serve` on a unix socket
 * in a fresh temp dir and resolves once it answers calls; tests talk to it over gRPC only, and watch its pid
 * from /proc (fd count, children, exit).
 *
 * Until the CLI had `shim serve`, this file was also the shim: run as a script (`node shim.js`, config in
 * NODEWASI_TEST_SHIM_CONFIG), it serves the same four services from the library. `NODEWASI_TEST_SHIM=lib`
 * still selects that mode, to tell a bug of the CLI's composition root from one of the services.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { Images, Task, Tasks } from "../../src/gen/index.js";
import {
  addService,
  type Client,
  type ClientOptions,
  closeClient,
  createClient,
  createGrpcServer,
  listenUnix,
  shutdownServer,
} from "../../src/rpc/index.js";
import {
  ImagesService,
  nullPublisher,
  StoreImageResolver,
  TaskService,
  TasksService,
} from "../../src/shim/index.js";
import { ChildRunner } from "../../src/wasi/index.js";

/** The repository root (this file runs as dist/test/harness/shim.js). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const NODEWASI_BIN = join(REPO_ROOT, "bin", "nodewasi");
const SELF = fileURLToPath(import.meta.url);
const CONFIG_ENV = "NODEWASI_TEST_SHIM_CONFIG";

export interface ShimOptions {
  /** The shim's root (content store, task state); a temp dir removed by `stop()` when not given. */
  root?: string;
  /** Sandbox of the runners; the shim's default (auto) when not given. */
  isolation?: "auto" | "bwrap" | "none";
  /** Warm runner pool size; the shim's default when not given. */
  pool?: number;
}

export interface ShimHandle {
  /** The unix socket path the shim serves on. */
  address: string;
  root: string;
  /** The shim process's pid. */
  pid: number;
  /** Whether this is `bin/nodewasi shim serve` (else the library-built stand-in). */
  real: boolean;
  /** Settles with the exit code (or signal name) once the shim process has exited. */
  exited: Promise<number | string>;
  /** A typed gRPC client of `desc` on the shim's socket; closed by `stop()`. */
  client<S extends DescService>(desc: S, options?: ClientOptions): Client<S>;
  /** What the shim wrote on stderr so far. */
  stderr(): string;
  /** Open file descriptors of the shim process (/proc/PID/fd). */
  fdCount(): number;
  /** Pids of the shim process's direct children (runners, bwrap). */
  children(): number[];
  childCount(): number;
  /** Stops the shim (SIGTERM, then SIGKILL after 3 s), closes clients, removes temp dirs. */
  stop(): Promise<void>;
}

/** Whether the CLI has `shim serve` (then tests run against it unless NODEWASI_TEST_SHIM=lib). */
function cliHasShimServe(): boolean {
  if (process.env.NODEWASI_TEST_SHIM === "lib") return false;
  const main = join(REPO_ROOT, "dist", "src", "cli", "main.js");
  return existsSync(main) && readFileSync(main, "utf8").includes("shimCommand(");
}

/**
 * Starts a shim process and resolves once it answers `Connect`. Rejects with the shim's stderr when it exits
 * or does not answer within 15 s.
 */
export async function startShim(opts: ShimOptions = {}): Promise<ShimHandle> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-shim-"));
  const root = opts.root ?? join(dir, "root");
  const address = join(dir, "run", "shim.sock");
  const real = cliHasShimServe();
  const child = real ? spawnCli(root, address, opts) : spawnLib(root, address, opts);
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  child.stdout!.resume();
  const exited = new Promise<number | string>((res) => {
    child.once("exit", (code, signal) => res(code ?? signal ?? -1));
  });
  const clients: object[] = [];
  const handle: ShimHandle = {
    address,
    root,
    pid: child.pid!,
    real,
    exited,
    client(desc, options = {}) {
      const c = createClient(desc, address, options);
      clients.push(c);
      return c;
    },
    stderr: () => err,
    fdCount: () => readdirSync(`/proc/${child.pid}/fd`).length,
    children: () => childrenOf(child.pid!),
    childCount: () => childrenOf(child.pid!).length,
    async stop() {
      for (const c of clients) closeClient(c);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  const probe = createClient(Task, address, { timeoutMs: 15_000 });
  try {
    await Promise.race([
      probe.connect({ id: "" }, { waitForReady: true }),
      exited.then((code) => {
        throw new Error(`the shim exited (${code}) before serving: ${err}`);
      }),
    ]);
  } catch (e) {
    await handle.stop();
    throw new Error(`shim did not start on ${address}: ${(e as Error).message}\nstderr: ${err}`);
  } finally {
    closeClient(probe);
  }
  return handle;
}

function spawnCli(root: string, address: string, opts: ShimOptions): ChildProcess {
  const args = [NODEWASI_BIN, "--root", root, "--address", address, "shim", "serve"];
  if (opts.isolation) args.push("--isolation", opts.isolation);
  if (opts.pool !== undefined) args.push("--pool", String(opts.pool));
  return spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
}

function spawnLib(root: string, address: string, opts: ShimOptions): ChildProcess {
  return spawn(process.execPath, ["--no-warnings", SELF], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, [CONFIG_ENV]: JSON.stringify({ root, address, ...opts }) },
  });
}

/** Direct children of `pid`, from the ppid field of every /proc/N/stat. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) === pid) out.push(Number(name));
  }
  return out;
}

/** The stand-in shim: the library's services over gRPC, exiting on Shutdown (no task left) or SIGTERM. */
async function serveFromLibrary(config: ShimOptions & { root: string; address: string }): Promise<void> {
  const runner = new ChildRunner({
    ...(config.isolation ? { isolation: config.isolation } : {}),
    ...(config.pool !== undefined ? { pool: config.pool } : {}),
  });
  const server = createGrpcServer();
  let closing = false;
  const exit = async () => {
    if (closing) return;
    closing = true;
    await shutdownServer(server, 1000);
    await runner.close();
    process.exit(0);
  };
  const tasks = new TaskService({
    runner,
    images: new StoreImageResolver(config.root),
    events: nullPublisher,
    stateDir: join(config.root, "state"),
    onShutdown: () => setImmediate(() => void exit()),
    version: "test-harness",
  });
  addService(server, Task, tasks, { names: ["containerd.task.v2.Task", "containerd.task.v3.Task"] });
  addService(server, Images, new ImagesService(config.root));
  addService(server, Tasks, new TasksService(tasks));
  await listenUnix(server, config.address);
  process.on("SIGTERM", () => void exit());
}

if (process.argv[1] === SELF && process.env[CONFIG_ENV]) {
  await serveFromLibrary(JSON.parse(process.env[CONFIG_ENV]));
}
