/**
 * Memory, CPU and threads of a process from Linux procfs (proc(5)): /proc/PID/status (`VmRSS`, `VmHWM`, `RssAnon`,
 * `RssFile`, `RssShmem`, `VmSwap`, `Threads`) and /proc/PID/stat (`minflt`, `majflt`, `utime`, `stime`). These
 * are the figures a memory, cpuacct and pids cgroup holding only this process would show; the shim reports them
 * to containerd as cgroups metrics. A runner runs one guest, so they are the guest's figures plus one Node
 * process's baseline (~40 MB RSS, a dozen threads).
 */
import { readFile } from "node:fs/promises";
import { clockTicks, notFound } from "../internal/index.js";
import type { ProcessStats } from "./runner.js";

/** Reads the stats of `pid`; `NotFound` when the process is gone (it exited between the caller's check and now). */
export async function procStats(pid: number): Promise<ProcessStats> {
  let status: string;
  let stat: string;
  try {
    [status, stat] = await Promise.all([
      readFile(`/proc/${pid}/status`, "utf8"),
      readFile(`/proc/${pid}/stat`, "utf8"),
    ]);
  } catch (cause) {
    throw notFound(`process ${pid}: no stats, it is not running (${(cause as Error).message})`, { cause });
  }
  return parseProcStats(status, stat);
}

/**
 * The stats in the text of /proc/PID/status and /proc/PID/stat. A line missing from status (a zombie has no
 * `Vm*` lines, a kernel before 4.5 no `Rss*`) counts as 0.
 */
export function parseProcStats(status: string, stat: string): ProcessStats {
  const kb = (name: string) =>
    1024 * Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? 0);
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  // fields[i] is field i + 3 of proc(5).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const field = (n: number) => Number(fields[n - 3] ?? 0) || 0;
  const nanos = (t: number) => Math.round((t * 1e9) / clockTicks());
  const userNanos = nanos(field(14));
  const systemNanos = nanos(field(15));
  return {
    memoryBytes: kb("VmRSS"),
    peakMemoryBytes: kb("VmHWM"),
    anonBytes: kb("RssAnon"),
    fileBytes: kb("RssFile"),
    shmemBytes: kb("RssShmem"),
    swapBytes: kb("VmSwap"),
    cpuNanos: userNanos + systemNanos,
    userNanos,
    systemNanos,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0) || field(20),
    minorFaults: field(10),
    majorFaults: field(12),
  };
}

/** The figures of several processes added up, as one cgroup holding them all would show them. */
export function sumStats(each: readonly ProcessStats[]): ProcessStats {
  const total: ProcessStats = {
    memoryBytes: 0,
    peakMemoryBytes: 0,
    anonBytes: 0,
    fileBytes: 0,
    shmemBytes: 0,
    swapBytes: 0,
    cpuNanos: 0,
    userNanos: 0,
    systemNanos: 0,
    threads: 0,
    minorFaults: 0,
    majorFaults: 0,
  };
  for (const s of each) for (const k of Object.keys(total) as (keyof ProcessStats)[]) total[k] += s[k];
  return total;
}
