/**
 * `npm run bench -- NAME [--runs N]`: side-by-side benchmarks against peer tools, alternating runs in one
 * process so both see the same machine load, printing every run, the medians and the ratio. Benchmarks are
 * never timed tests: the machines are shared and noisy, so only ratios within one run mean anything.
 */
import { benchBuild } from "./build.js";
import { benchCtr } from "./ctr.js";
import { benchFiles } from "./files.js";
import { benchMemory } from "./memory.js";
import { benchPull } from "./pull.js";
import { benchPush } from "./push.js";
import { benchRun } from "./run.js";
import { benchStartup } from "./startup.js";
import { benchZstd } from "./zstd.js";

const BENCHES: Record<string, (runs: number) => Promise<void>> = {
  build: benchBuild,
  ctr: benchCtr,
  files: benchFiles,
  memory: benchMemory,
  pull: benchPull,
  push: benchPush,
  run: benchRun,
  startup: benchStartup,
  zstd: benchZstd,
};

async function main(argv: string[]): Promise<void> {
  const name = argv.find((a) => !a.startsWith("-"));
  const runsFlag = argv.indexOf("--runs");
  const runs = runsFlag >= 0 ? Number(argv[runsFlag + 1]) : 5;
  if (!name || !BENCHES[name] || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`usage: npm run bench -- ${Object.keys(BENCHES).join("|")} [--runs N]\n`);
    process.exit(2);
  }
  await BENCHES[name](runs);
}

await main(process.argv.slice(2));
