/**
 * Who a process is, beyond its pid. Pids are reused (after a crash, after a reboot, or 32,768 forks later), so
 * "pid N is alive" does not say that N is the process that wrote a lock file or a temp folder: an unrelated
 * process with that pid would keep them alive for ever. Linux gives each process a start time (field 22 of
 * /proc/PID/stat, clock ticks since boot) and each boot an id (/proc/sys/kernel/random/boot_id); the triple
 * (boot, pid, start) names one process for ever. Without /proc (not Linux) only the pid is known, and these
 * helpers fall back to `kill(pid, 0)`.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename } from "node:path";

/** A process, named so that a reused pid cannot pass for it. */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22); undefined without /proc. */
  start?: number;
  /** The boot it ran in (/proc/sys/kernel/random/boot_id); undefined without /proc. */
  boot?: string;
}

let self: ProcessIdentity | undefined;
let boot: string | null | undefined;
let ticks: number | undefined;
let bootTimeMs: number | null | undefined;

/** This process's identity (read once). */
export function selfIdentity(): ProcessIdentity {
  if (self === undefined) {
    const start = processStart(process.pid);
    const b = bootId();
    self = { pid: process.pid, ...(start !== undefined ? { start } : {}), ...(b ? { boot: b } : {}) };
  }
  return self;
}

/** The id of the running boot, or undefined without /proc. */
export function bootId(): string | undefined {
  if (boot === undefined) {
    try {
      boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
    } catch {
      boot = null;
    }
  }
  return boot ?? undefined;
}

/** Clock ticks per second of /proc/PID/stat times: `getconf CLK_TCK`, read once; 100 when getconf fails. */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number.parseInt(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }), 10) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** The fields of /proc/PID/stat after the command name (field 3 first), or undefined when it cannot be read. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces and parentheses: count after the last ')'.
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** When `pid` started, in clock ticks since boot; undefined when it does not exist or there is no /proc. */
export function processStart(pid: number): number | undefined {
  const start = Number(statFields(pid)?.[19]); // field 22 of proc(5)
  return Number.isSafeInteger(start) ? start : undefined;
}

/** When `pid` started, in ms since the epoch (boot time + start ticks, ±1 s); undefined when unknown. */
export function processStartMs(pid: number): number | undefined {
  const start = processStart(pid);
  if (start === undefined) return undefined;
  if (bootTimeMs === undefined) {
    try {
      const btime = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1];
      bootTimeMs = btime ? Number(btime) * 1000 : null;
    } catch {
      bootTimeMs = null;
    }
  }
  return bootTimeMs === null ? undefined : bootTimeMs + (start * 1000) / clockTicks();
}

/**
 * Whether a process with this pid runs. A zombie does not (it has exited and awaits its reaper), and EPERM
 * means it runs as someone else.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const fields = statFields(pid);
  if (fields?.[0] === "Z" || fields?.[0] === "X") return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the process `id` names still runs: its pid is alive and, where known, in the same boot with the
 * same start time (so a reused pid is not it).
 */
export function isSameProcess(id: ProcessIdentity): boolean {
  if (!isProcessAlive(id.pid)) return false;
  const nowBoot = bootId();
  if (id.boot !== undefined && nowBoot !== undefined && id.boot !== nowBoot) return false;
  if (id.start === undefined) return true;
  const start = processStart(id.pid);
  return start === undefined || start === id.start;
}

/**
 * Whether `pid` may be the process that made something at `sinceMs` (a file's mtime): it runs and did not start
 * after that moment. For records that name only a pid (older lock files, `NAME.tmp-<pid>-...`): a process that
 * started later took over a reused pid. `slackMs` absorbs the boot time's one-second resolution and clock steps.
 */
export function mayBeOwner(pid: number, sinceMs: number, slackMs = 5000): boolean {
  if (!isProcessAlive(pid)) return false;
  const started = processStartMs(pid);
  return started === undefined || started <= sinceMs + slackMs;
}

/**
 * The command line of `pid`, for messages (`node bin/nodewasi pull x`), cut to `max` characters. The program is
 * named by its file name alone, as ps does: a Node installed under a long path otherwise left no room for what
 * it runs.
 */
export function processCommand(pid: number, max = 80): string | undefined {
  try {
    const [program, ...args] = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const text = program === undefined ? "" : [basename(program), ...args].join(" ");
    if (!text) return undefined;
    return text.length > max ? `${text.slice(0, max - 3)}...` : text;
  } catch {
    return undefined;
  }
}
