/**
 * `npm run bench -- run [--runs N]`: what running a task costs, side by side in one run.
 *
 * Warm: Create+Start+Wait (and Delete) of a cached image over gRPC against a running `nodewasi shim serve`,
 * p50 and p95 over at least 200 runs, against the floor: compiling, instantiating and running the same module
 * inside one process with node:wasi. Both shim configurations are measured: the default here (auto: bwrap
 * when usable, its warm sandboxes given each task's paths as root, src/wasi/warm-slots.ts, else every runner
 * started cold) and unsandboxed with a warm pool of 2. Contenders alternate
 * run by run so they see the same machine load. Goal (issue 12): shim p50 <= 5x the floor's.
 *
 * Cold: wall time of `nodewasi run --rm` (a fresh CLI process each time, the daemon already running)
 * against `node -e 0`, medians and ratio (the row `npm run bench -- startup` also prints).
 *
 * Verification: what checking the module against its digest costs, for this module and a 64 MiB one (verify.ts).
 */
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Task } from "../src/gen/index.js";
import type { Client } from "../src/rpc/index.js";
import { REPO_ROOT, type ShimHandle, startShim } from "../test/harness/shim.js";
import { imageOptions } from "../test/harness/task-kit.js";
import { percentile } from "./measure.js";
import { compareRunRm } from "./startup.js";
import { benchVerify } from "./verify.js";

const IMAGE = `oci:${join(REPO_ROOT, "examples", "images", "hello")}:latest`;
/** The module the image packages (its Entrypoint /hello.wasm). */
const MODULE = join(REPO_ROOT, "examples", "hello", "hello.wasm");
const WARM_MIN = 200;

/** The WebAssembly JS API calls the floor makes (the project's `lib` has no WebAssembly declarations). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: { Module: new (b: Uint8Array) => object; Instance: new (m: object, i: object) => object };
  }
).WebAssembly;
const COLD_MIN = 10;

interface Warm {
  name: string;
  run(i: number): Promise<void>;
  samples: Map<string, number[]>;
  close?(): void;
}

/** The floor: compile + instantiate + run in this process, stdout to /dev/null. */
async function floor(): Promise<Warm> {
  // Node 20 warns that WASI is experimental when it loads; that line is noise in a table.
  const warnings = process.listeners("warning");
  process.removeAllListeners("warning");
  const { WASI } = await import("node:wasi");
  await new Promise((r) => setImmediate(r));
  for (const l of warnings) process.on("warning", l);
  const bytes = readFileSync(MODULE);
  const devnull = openSync("/dev/null", "w");
  const samples = new Map([["compile+instantiate+run", [] as number[]]]);
  return {
    name: "floor (node:wasi in one process)",
    samples,
    async run() {
      const t0 = performance.now();
      const module = new wasm.Module(bytes);
      const wasi = new WASI({
        version: "preview1",
        args: ["/hello.wasm"],
        env: {},
        stdout: devnull,
        returnOnExit: true,
      });
      const instance = new wasm.Instance(module, wasi.getImportObject());
      const code = wasi.start(instance);
      samples.get("compile+instantiate+run")!.push(performance.now() - t0);
      if (code !== 0) throw new Error(`floor: hello exited ${code}`);
    },
    close: () => closeSync(devnull),
  };
}

/** One shim configuration: Create+Start+Wait timed, then Delete timed on its own. */
function shimContender(name: string, task: Client<typeof Task>): Warm {
  const samples = new Map<string, number[]>([
    ["Create+Start+Wait", []],
    ["Create+Start+Wait+Delete", []],
    ["  of which Create", []],
    ["  of which Start", []],
    ["  of which Wait after Start", []],
  ]);
  let n = 0;
  return {
    name,
    samples,
    async run() {
      const id = `bench-${++n}`;
      const t0 = performance.now();
      await task.create({ id, options: imageOptions(IMAGE) });
      const created = performance.now();
      const waiting = task.wait({ id });
      await task.start({ id });
      const started = performance.now();
      const { exitStatus } = await waiting;
      const t1 = performance.now();
      await task.delete({ id });
      const t2 = performance.now();
      if (exitStatus !== 0) throw new Error(`${name}: hello exited ${exitStatus}`);
      samples.get("Create+Start+Wait")!.push(t1 - t0);
      samples.get("Create+Start+Wait+Delete")!.push(t2 - t0);
      samples.get("  of which Create")!.push(created - t0);
      samples.get("  of which Start")!.push(started - created);
      samples.get("  of which Wait after Start")!.push(t1 - started);
    },
  };
}

function printWarm(contenders: Warm[], runs: number): void {
  const floorP50 = percentile([...contenders[0]!.samples.values()][0]!, 50);
  const rows: string[][] = [["contender", "measured", "p50 ms", "p95 ms", "p50 / floor"]];
  for (const c of contenders) {
    for (const [what, xs] of c.samples) {
      const p50 = percentile(xs, 50);
      rows.push([
        c.name,
        what,
        p50.toFixed(1),
        percentile(xs, 95).toFixed(1),
        `${(p50 / floorP50).toFixed(1)}x`,
      ]);
    }
  }
  const widths = rows[0]!.map((_, k) => Math.max(...rows.map((r) => r[k]!.length)));
  const line = (r: string[]) =>
    r.map((cell, k) => (k < 2 ? cell.padEnd(widths[k]!) : cell.padStart(widths[k]!))).join("  ");
  process.stdout.write(`\nwarm task latency: ${IMAGE}, ${runs} runs each, alternated\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  for (const c of contenders.slice(1)) {
    const p50 = percentile(c.samples.get("Create+Start+Wait")!, 50);
    const ratio = p50 / floorP50;
    process.stdout.write(
      `ratio ${c.name} Create+Start+Wait p50 / floor p50 = ${ratio.toFixed(2)} (goal <= 5: ${ratio <= 5 ? "met" : "missed"})\n`,
    );
  }
}

/** Runs the warm and cold comparisons; `runs` raises the counts above their minimums (200 warm, 10 cold). */
export async function benchRun(runs: number): Promise<void> {
  const warmRuns = Math.max(WARM_MIN, runs);
  const coldRuns = Math.max(COLD_MIN, runs);
  const shims: ShimHandle[] = [];
  const base = await floor();
  try {
    const auto = await startShim({ debug: false });
    shims.push(auto);
    const pooled = await startShim({ isolation: "none", pool: 2, debug: false });
    shims.push(pooled);
    const contenders = [
      base,
      shimContender("shim, default (auto isolation)", auto.client(Task, { timeoutMs: 30_000 })),
      shimContender("shim, isolation none, pool 2", pooled.client(Task, { timeoutMs: 30_000 })),
    ];
    // Untimed: the pull into each shim's store, JIT warm-up on both sides.
    for (const c of contenders) for (let i = 0; i < 3; i++) await c.run(i);
    for (const c of contenders) for (const xs of c.samples.values()) xs.length = 0;
    for (let i = 0; i < warmRuns; i++) {
      const order = i % 2 ? [...contenders].reverse() : contenders;
      for (const c of order) await c.run(i);
      if ((i + 1) % 50 === 0) process.stdout.write(`warm: ${i + 1}/${warmRuns}\n`);
    }
    printWarm(contenders, warmRuns);

    process.stdout.write("\n");
    await compareRunRm(auto, coldRuns);
    await benchVerify(MODULE, runs);
  } finally {
    base.close?.();
    for (const s of shims) await s.stop();
  }
}
