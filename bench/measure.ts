/** Timing helpers for benchmarks: run commands, alternate contenders, summarise with medians. */
import { spawn } from "node:child_process";

/** Runs a command to completion and returns its wall time in ms; rejects with its stderr when it fails. */
export function timeCommand(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Number(process.hrtime.bigint() - start) / 1e6);
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.trim()}`));
    });
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The `p`-th percentile (0-100) of `xs`, by linear interpolation between the closest ranks. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export interface Contender {
  name: string;
  /** One timed run; `prepare` (untimed) runs before it. */
  run(): Promise<number>;
  prepare?(): Promise<void>;
}

/** Alternates the contenders `runs` times (order flipped every round) and prints runs, medians and ratio. */
export async function compare(title: string, runs: number, a: Contender, b: Contender): Promise<void> {
  const times = new Map<string, number[]>([
    [a.name, []],
    [b.name, []],
  ]);
  for (let i = 0; i < runs; i++) {
    const order = i % 2 ? [b, a] : [a, b];
    for (const c of order) {
      await c.prepare?.();
      const ms = await c.run();
      times.get(c.name)!.push(ms);
      process.stdout.write(`run ${i + 1}/${runs}  ${c.name.padEnd(16)} ${ms.toFixed(0).padStart(7)} ms\n`);
    }
  }
  const ma = median(times.get(a.name)!);
  const mb = median(times.get(b.name)!);
  process.stdout.write(
    `\n${title}\n` +
      `${"contender".padEnd(16)} ${"median ms".padStart(10)}  runs\n` +
      `${a.name.padEnd(16)} ${ma.toFixed(0).padStart(10)}  ${times
        .get(a.name)!
        .map((t) => t.toFixed(0))
        .join(" ")}\n` +
      `${b.name.padEnd(16)} ${mb.toFixed(0).padStart(10)}  ${times
        .get(b.name)!
        .map((t) => t.toFixed(0))
        .join(" ")}\n` +
      `ratio ${a.name} / ${b.name} = ${(ma / mb).toFixed(2)}\n`,
  );
}
