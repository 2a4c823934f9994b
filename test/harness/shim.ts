/**
 * A real shim process for the Task API tests: `startShim()` spawns `bin/nodewasi --debug shim serve` on a unix
 * socket in a fresh temp dir and resolves once it answers calls; tests talk to it over gRPC only, read the task
 * events it logs, and watch its pid from /proc (fd count, children, exit).
 *
 * Run as a script (`node shim.js`, config in NODEWASI_TEST_SHIM_CONFIG), this file is also a stand-in shim
 * built from the library's services, selected by `NODEWASI_TEST_SHIM=lib`: it tells a bug of the CLI's
 * composition root from one of the services, and it is what the tests ran on before `shim serve` existed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { Images, TASK_NAMES, Task, Tasks } from "../../src/gen/index.js";
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
import { ImagesService, StoreImageResolver, TaskService, TasksService } from "../../src/shim/index.js";
import { ChildRunner } from "../../src/wasi/index.js";
import { childrenOf } from "./children.js";
import { unmountUnder } from "./mounts.js";

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
  /**
   * `--idle-timeout` in seconds (the real shim only). Default 300: a safety net, so a shim whose test process
   * was killed before `stop()` does not stay forever.
   */
  idleTimeout?: number;
  /** Run with `--debug`, which logs the task events `events()` reads (default true; benchmarks turn it off). */
  debug?: boolean;
  /** Environment of the shim process instead of the test's own (`PATH` without bwrap, a canary variable). */
  env?: NodeJS.ProcessEnv;
}

/** A task event the shim logged (`--debug`): containerd's topic and the fields it logs. */
export interface ShimEvent {
  topic: string;
  containerId: string;
  execId?: string;
  pid?: number;
  exitStatus?: number;
}

/**
 * The direct children of `pid` but its mount helper (src/internal/mount-syscalls.ts: one Perl process a daemon
 * keeps as root, for its whole life), so that counts of children are counts of runners (and their bwraps).
 */
function runnersOf(pid: number): number[] {
  return childrenOf(pid).filter((c) => {
    try {
      return readFileSync(`/proc/${c}/comm`, "utf8").trim() !== "perl";
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** How long a shim may take to serve (see startShim). */
const START_MS = 60_000;

const EVENT_LINE = /debug: event (\/tasks\/[a-z-]+) (\{.*\})$/;

export interface ShimHandle {
  /** The unix socket path the shim serves on. */
  address: string;
  root: string;
  /** Where the shim keeps its tasks' bundles (`<root>/tasks`, or `<root>/state/tasks` for the stand-in). */
  tasksDir: string;
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
  /** Task events logged so far, in the order the shim published them. */
  events(): ShimEvent[];
  /** Resolves with the first event (seen or to come) that `match` accepts; rejects after `ms`. */
  event(match: (e: ShimEvent) => boolean, ms?: number): Promise<ShimEvent>;
  /** Open file descriptors of the shim process (/proc/PID/fd). */
  fdCount(): number;
  /** Pids of the shim process's direct children (runners, bwrap), its mount helper left out (runnersOf). */
  children(): number[];
  childCount(): number;
  /** Stops the shim (SIGTERM, then SIGKILL after 3 s), closes clients, removes temp dirs. */
  stop(): Promise<void>;
}

/**
 * Starts a shim process and resolves once it answers `Connect`. Rejects with the shim's stderr when it exits
 * or does not answer within 60 s (a bound for a machine busy with other test runs, where a shim's boot took
 * more than 15 s; an idle one takes well under a second).
 */
export async function startShim(opts: ShimOptions = {}): Promise<ShimHandle> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-shim-"));
  const root = opts.root ?? join(dir, "root");
  const address = join(dir, "run", "shim.sock");
  const real = process.env.NODEWASI_TEST_SHIM !== "lib";
  const child = real ? spawnCli(root, address, opts) : spawnLib(root, address, opts);
  // A test process that ends without `stop()` (an uncaught error, EPIPE on stdout) takes its shims along.
  const reap = () => {
    child.kill("SIGKILL");
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", reap);
  let err = "";
  let partial = "";
  const events: ShimEvent[] = [];
  let waiters: { match: (e: ShimEvent) => boolean; resolve: (e: ShimEvent) => void }[] = [];
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    const lines = (partial + d).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      const m = EVENT_LINE.exec(line);
      if (!m) continue;
      const e = { topic: m[1]!, ...JSON.parse(m[2]!) } as ShimEvent;
      events.push(e);
      waiters = waiters.filter((w) => {
        if (!w.match(e)) return true;
        w.resolve(e);
        return false;
      });
    }
  });
  child.stdout!.resume();
  const exited = new Promise<number | string>((res) => {
    child.once("exit", (code, signal) => res(code ?? signal ?? -1));
  });
  const clients: object[] = [];
  const handle: ShimHandle = {
    address,
    root,
    tasksDir: real ? join(root, "tasks") : join(root, "state", "tasks"),
    pid: child.pid!,
    real,
    exited,
    client(desc, options = {}) {
      const c = createClient(desc, address, options);
      clients.push(c);
      return c;
    },
    stderr: () => err,
    events: () => [...events],
    event(match, ms = 10_000) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such event within ${ms} ms`)), ms);
        waiters.push({
          match,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    fdCount: () => readdirSync(`/proc/${child.pid}/fd`).length,
    children: () => runnersOf(child.pid!),
    childCount: () => runnersOf(child.pid!).length,
    async stop() {
      process.off("exit", reap);
      for (const c of clients) closeClient(c);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      }
      // A shim that was killed (or the stand-in, which deletes no task) leaves its tasks' overlays mounted.
      unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
  const probe = createClient(Task, address, { timeoutMs: START_MS });
  const died = exited.then((code) => {
    throw new Error(`the shim exited (${code}) before serving: ${err}`);
  });
  died.catch(() => {});
  try {
    // Call only once the socket is there: grpc-js retries a refused connection after a backoff of 1 s, then
    // 1.6 s..., and on a busy machine a shim with a 1 s idle timeout had gone idle by then.
    await Promise.race([socketAppears(address, START_MS), died]);
    await Promise.race([probe.connect({ id: "" }, { waitForReady: true }), died]);
  } catch (e) {
    await handle.stop();
    throw new Error(`shim did not start on ${address}: ${(e as Error).message}\nstderr: ${err}`);
  } finally {
    closeClient(probe);
  }
  return handle;
}

/** Resolves once `path` exists (polled every 10 ms); rejects after `ms`. */
async function socketAppears(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`no socket at ${path} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function spawnCli(root: string, address: string, opts: ShimOptions): ChildProcess {
  const args = [NODEWASI_BIN, ...(opts.debug === false ? [] : ["--debug"])];
  args.push("--root", root, "--address", address, "shim", "serve");
  if (opts.isolation) args.push("--isolation", opts.isolation);
  if (opts.pool !== undefined) args.push("--pool", String(opts.pool));
  args.push("--idle-timeout", String(opts.idleTimeout ?? 300));
  return spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: opts.env ?? process.env });
}

function spawnLib(root: string, address: string, opts: ShimOptions): ChildProcess {
  return spawn(process.execPath, ["--no-warnings", SELF], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...(opts.env ?? process.env), [CONFIG_ENV]: JSON.stringify({ root, address, ...opts }) },
  });
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
    events: {
      // The same lines as `nodewasi --debug shim serve` logs, so `ShimHandle.events()` reads both.
      publish({ topic, event }) {
        if (config.debug === false) return;
        const e = event as unknown as ShimEvent;
        const fields = {
          containerId: e.containerId,
          ...(e.execId ? { execId: e.execId } : {}),
          ...(e.pid ? { pid: e.pid } : {}),
          ...(topic === "/tasks/exit" ? { exitStatus: e.exitStatus } : {}),
        };
        process.stderr.write(`nodewasi shim: debug: event ${topic} ${JSON.stringify(fields)}\n`);
      },
    },
    stateDir: join(config.root, "state"),
    onShutdown: () => setImmediate(() => void exit()),
    version: "test-harness",
  });
  addService(server, Task, tasks, { names: TASK_NAMES });
  addService(server, Images, new ImagesService(config.root));
  addService(server, Tasks, new TasksService(tasks));
  await listenUnix(server, config.address);
  process.on("SIGTERM", () => void exit());
}

if (process.argv[1] === SELF && process.env[CONFIG_ENV]) {
  await serveFromLibrary(JSON.parse(process.env[CONFIG_ENV]));
}
