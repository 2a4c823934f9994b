/** The processes a process has started, read from /proc (Linux): for tests that check nothing is left behind. */
import { readdirSync, readFileSync } from "node:fs";

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
