/**
 * Part of `npm run bench -- run`: what checking a module against its digest costs (issue 10 item 5). The runner
 * hashes the very bytes it reads and compiles (RunSpec.moduleDigest), so the cost is the sha256 alone, no extra
 * read. Measured two ways, for the hello module and a 64 MiB one: in this process, sha256 against reading and
 * compiling the same bytes; and end to end, a cold runner (isolation none) started and run to its exit with and
 * without the digest, alternated run by run.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "../src/internal/index.js";
import { ChildRunner, type RunSpec } from "../src/wasi/index.js";
import { bigModule } from "../test/harness/modules.js";
import { percentile } from "./measure.js";

const wasm = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object } })
  .WebAssembly;

/** Prints the verification table for the module at `hello` and a 64 MiB module; `runs` samples each. */
export async function benchVerify(hello: string, runs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "nodewasi-bench-verify-"));
  const runner = new ChildRunner({ isolation: "none", pool: 0 });
  try {
    const big = join(dir, "big.wasm");
    writeFileSync(big, bigModule("bench", 64 * 1024 * 1024));
    const rows: string[][] = [
      ["module", "size", "read ms", "sha256 ms", "compile ms", "sha256 / (read + compile)", "sha256 wall ms"],
    ];
    // CPU time (process.cpuUsage) is what a step costs; on a shared machine wall time mostly measures the load.
    const cpu = (f: () => unknown) => {
      const before = process.cpuUsage();
      f();
      const d = process.cpuUsage(before);
      return (d.user + d.system) / 1000;
    };
    for (const [name, path] of [
      ["hello", hello],
      ["64 MiB", big],
    ] as const) {
      const read: number[] = [];
      const hash: number[] = [];
      const hashWall: number[] = [];
      const compile: number[] = [];
      let size = 0;
      for (let i = 0; i < Math.max(runs, 10); i++) {
        let bytes = Buffer.alloc(0);
        read.push(cpu(() => (bytes = readFileSync(path))));
        size = bytes.length;
        const t = performance.now();
        hash.push(cpu(() => createHash("sha256").update(bytes).digest("hex")));
        hashWall.push(performance.now() - t);
        compile.push(cpu(() => new wasm.Module(bytes)));
      }
      const [r, h, c, hw] = [read, hash, compile, hashWall].map((xs) => percentile(xs, 50)) as [
        number,
        number,
        number,
        number,
      ];
      rows.push([
        name,
        `${(size / 1024).toFixed(0)} KiB`,
        r.toFixed(2),
        h.toFixed(2),
        c.toFixed(2),
        `${((h / (r + c)) * 100).toFixed(1)}%`,
        hw.toFixed(2),
      ]);
    }
    process.stdout.write(
      "\nmodule verification, in process (p50 of CPU time; the sha256 also as wall time)\n",
    );
    printRows(rows);

    const digest = sha256(readFileSync(big)); // once, outside the timed runs
    const spec = (check: boolean): RunSpec => ({
      module: big,
      ...(check ? { moduleDigest: digest } : {}),
      args: ["big.wasm"],
      env: {},
      preopens: {},
      stdin: { kind: "null" },
      stdout: { kind: "null" },
      stderr: { kind: "null" },
    });
    const timed = { with: [] as number[], without: [] as number[] };
    const coldRuns = Math.max(runs, 6);
    for (let i = 0; i < coldRuns + 1; i++) {
      for (const check of i % 2 ? [true, false] : [false, true]) {
        const s = spec(check);
        const t = performance.now();
        const p = await runner.start(s);
        await p.exited;
        if (i > 0) (check ? timed.with : timed.without).push(performance.now() - t); // run 0 warms up
      }
    }
    const w = percentile(timed.with, 50);
    const wo = percentile(timed.without, 50);
    process.stdout.write(
      `\n64 MiB module, cold runner start to exit (isolation none), ${coldRuns} runs each, alternated\n`,
    );
    printRows([
      ["contender", "p50 ms", "p95 ms"],
      [
        "with moduleDigest (the default for store images)",
        w.toFixed(1),
        percentile(timed.with, 95).toFixed(1),
      ],
      ["without", wo.toFixed(1), percentile(timed.without, 95).toFixed(1)],
    ]);
    process.stdout.write(
      `cost of the check: ${(w - wo).toFixed(1)} ms p50 (${(((w - wo) / wo) * 100).toFixed(1)}%)\n`,
    );
  } finally {
    await runner.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function printRows(rows: string[][]): void {
  const widths = rows[0]!.map((_, k) => Math.max(...rows.map((r) => r[k]!.length)));
  for (const r of rows) {
    process.stdout.write(
      `${r.map((cell, k) => (k === 0 ? cell.padEnd(widths[k]!) : cell.padStart(widths[k]!))).join("  ")}\n`,
    );
  }
}
