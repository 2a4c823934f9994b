/**
 * `npm run bench -- memory [--runs N]`: what one running task costs in memory (issue 12's last row, goal
 * <= 20 MiB a task).
 *
 * Each round starts TASKS sleeping tasks (sleep-ms, in the shim's default isolation) on one running
 * `nodewasi shim serve` and measures them three ways:
 * - **free**: the fall of MemAvailable (/proc/meminfo) from before Create to all started, divided by TASKS,
 *   what `free` before/after shows (what the issue measured). Everything else on the machine moves it too,
 *   so it is noisy on a shared machine: read the median over rounds.
 * - **USS**: the private pages (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup) of every process of
 *   each task's process group (bwrap and the runner), plus the shim daemon's own growth, divided by TASKS:
 *   what ending the task gives back. Pages shared with other processes (the Node binary, libraries) are not
 *   in it, so other load on the machine does not move it. (PSS would split those pages over every Node
 *   process on the machine, so it falls as the machine gets busier.)
 * - **RSS** of a task's processes, which counts shared pages in every process (an upper bound).
 *
 * The floor beside it is the USS of as many idle `node -e` processes started side by side: one Node process
 * per task is DESIGN decision 5, so that is what a task costs before nodewasi adds anything.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { Task } from "../src/gen/index.js";
import { startShim } from "../test/harness/shim.js";
import { imageOptions, tempDir, writeModuleLayout } from "../test/harness/task-kit.js";
import { median } from "./measure.js";

const TASKS = 10;
const MIB = 1024 * 1024;
/** What a task may cost (issue 12). */
const GOAL_MIB = 20;
/** Long enough to outlast a round on a loaded machine; every task is killed at the round's end. */
const SLEEP_MS = "600000";

/** A /proc/meminfo field, in bytes. */
function meminfo(field: string): number {
  const line = readFileSync("/proc/meminfo", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`/proc/meminfo has no ${field}`);
  return Number(line.split(/\s+/)[1]) * 1024;
}

/** Private (USS) or resident (RSS) bytes of a process from /proc/PID/smaps_rollup; 0 once it is gone. */
function rollup(pid: number, what: "Uss" | "Rss"): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return 0;
  }
  const fields = what === "Rss" ? ["Rss"] : ["Private_Clean", "Private_Dirty"];
  let kib = 0;
  for (const line of text.split("\n")) {
    const [name, value] = line.split(/:\s+/);
    if (fields.includes(name!)) kib += Number.parseInt(value!, 10);
  }
  return kib * 1024;
}

/** Every pid whose process group is `pgid`. */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // Fields after "(comm)": state ppid pgrp ...
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (pgrp === pgid) pids.push(Number(name));
    } catch {}
  }
  return pids;
}

function pgidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Round {
  free: number;
  uss: number;
  rss: number;
  processes: number;
}

/** Starts `n` idle Node processes and measures them like tasks; the floor of one process a task. */
async function nodeFloor(n: number): Promise<{ uss: number; rss: number }> {
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
      children.push(child);
    }
    await sleep(1500);
    const pids = children.map((c) => c.pid!);
    return {
      uss: pids.reduce((s, p) => s + rollup(p, "Uss"), 0) / n,
      rss: pids.reduce((s, p) => s + rollup(p, "Rss"), 0) / n,
    };
  } finally {
    for (const c of children) c.kill("SIGKILL");
  }
}

const mib = (bytes: number) => (bytes / MIB).toFixed(1);

/** Runs `runs` rounds (at least 3) of TASKS sleeping tasks and prints the medians per task. */
export async function benchMemory(runs: number): Promise<void> {
  const rounds = Math.max(3, runs);
  const layoutDir = await tempDir("nodewasi-bench-memory-");
  const shim = await startShim({ debug: false });
  try {
    const image = (await writeModuleLayout(layoutDir, ["sleep-ms"]))("sleep-ms");
    const task = shim.client(Task, { timeoutMs: 60_000 });
    // Untimed: the pull into the shim's store, and one task so the daemon's lazy loads are done.
    await task.create({ id: "warm-up", options: imageOptions(image, { args: ["1"] }) });
    await task.start({ id: "warm-up" });
    await task.wait({ id: "warm-up" });
    await task.delete({ id: "warm-up" });
    const results: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      await sleep(1000);
      const daemonBefore = rollup(shim.pid, "Uss");
      const availableBefore = meminfo("MemAvailable");
      const ids = Array.from({ length: TASKS }, (_, i) => `mem-${r}-${i}`);
      const pids: number[] = [];
      for (const id of ids) {
        await task.create({ id, options: imageOptions(image, { args: [SLEEP_MS] }) });
        pids.push((await task.start({ id })).pid);
      }
      // Let the runners reach their guest's sleep and the daemon settle.
      await sleep(2000);
      const free = (availableBefore - meminfo("MemAvailable")) / TASKS;
      const groups = pids.map((pid) => groupPids(pgidOf(pid)));
      const daemonGrowth = rollup(shim.pid, "Uss") - daemonBefore;
      const uss = (groups.flat().reduce((s, p) => s + rollup(p, "Uss"), 0) + daemonGrowth) / TASKS;
      const rss = groups.flat().reduce((s, p) => s + rollup(p, "Rss"), 0) / TASKS;
      const processes = groups.flat().length / TASKS;
      results.push({ free, uss, rss, processes });
      process.stdout.write(
        `round ${r + 1}/${rounds}  free ${mib(free)} MiB/task  USS ${mib(uss)} MiB/task  RSS ${mib(rss)} MiB/task  (${processes} processes a task)\n`,
      );
      for (const id of ids) {
        await task.kill({ id, signal: 9 });
        await task.wait({ id });
        await task.delete({ id });
      }
    }
    const floor = await nodeFloor(TASKS);
    const m = (k: keyof Round) => median(results.map((x) => x[k]));
    process.stdout.write(
      `\nmemory per running task: ${TASKS} sleeping tasks, ${rounds} rounds, medians\n` +
        `free (MemAvailable drop) ${mib(m("free"))} MiB/task\n` +
        `USS (task processes + daemon growth) ${mib(m("uss"))} MiB/task\n` +
        `RSS of a task's processes ${mib(m("rss"))} MiB/task (${m("processes")} processes)\n` +
        `floor: an idle node process, USS ${mib(floor.uss)} MiB, RSS ${mib(floor.rss)} MiB\n` +
        `ratio USS per task / goal ${GOAL_MIB} MiB = ${(m("uss") / (GOAL_MIB * MIB)).toFixed(2)} (goal <= 1.0)\n`,
    );
  } finally {
    await shim.stop();
    await rm(layoutDir, { recursive: true, force: true });
  }
}
