/** Timing helpers for benchmarks: run commands, alternate contenders, summarise with medians. */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

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

/**
 * Times commands from a helper process (command-timer.ts), for a benchmark whose other contender runs in this
 * process: spawning from here forks this process, which write-protects every page it has, so its next run
 * faults on each page it writes again (a 50 MiB zstd decode right after a spawn took 16,000 more page faults
 * and three times the CPU). Each `time` resolves like `timeCommand`; `close` ends the helper.
 */
export class CommandTimer {
  readonly #child = spawn(process.execPath, [new URL("./command-timer.js", import.meta.url).pathname], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  readonly #answers = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();

  async time(cmd: string, args: string[]): Promise<number> {
    this.#child.stdin.write(`${JSON.stringify([cmd, ...args])}\n`);
    const answer = await this.#answers.next();
    if (answer.done) throw new Error("the command timer exited");
    const { ms, error } = JSON.parse(answer.value) as { ms?: number; error?: string };
    if (error !== undefined) throw new Error(error);
    return ms!;
  }

  close(): void {
    this.#child.stdin.end();
  }
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
