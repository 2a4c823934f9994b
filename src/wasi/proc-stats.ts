/**
 * Memory and CPU of a process from Linux procfs: `VmRSS` of /proc/PID/status and `utime + stime` of
 * /proc/PID/stat (proc(5)), as containerd's runc shim reports them through cgroups. A runner runs one guest,
 * so these are the guest's figures plus one Node process's baseline (~40 MB RSS).
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
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of proc(5): utime, stime
  return { memoryBytes: rssKb * 1024, cpuNanos: Math.round((cpuTicks * 1e9) / clockTicks()) };
}
