/**
 * This process's mount table, from /proc/self/mountinfo (proc(5)): which paths are mount points, whether one
 * propagates mounts to its peers and slaves (`shared:N`), and which directories overlays use as lower layers.
 * Read synchronously: the file is small, and callers ask between two steps that must see the same table.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** One line of mountinfo. */
export interface MountEntry {
  /** Where it is mounted (unescaped). */
  mountPoint: string;
  /** The folder of its filesystem that it shows (`/` for a whole filesystem; a bind shows a folder in one). */
  root: string;
  fsType: string;
  /** `shared:N` among the optional fields: mounts made below it propagate to its peers and slaves. */
  shared: boolean;
  /** The filesystem's own options, e.g. an overlay's `lowerdir=...`. */
  superOptions: string[];
}

/** The mount table now; empty where /proc is not mounted. */
export function readMountInfo(): MountEntry[] {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6) continue;
    entries.push({
      mountPoint: unescapeMountPath(fields[4]!),
      root: unescapeMountPath(fields[3]!),
      fsType: fields[dash + 1] ?? "",
      shared: fields.slice(6, dash).some((f) => f.startsWith("shared:")),
      superOptions: (fields[dash + 3] ?? "").split(","),
    });
  }
  return entries;
}

/** Whether `path` is a mount point (one or more mounts stacked on it). */
export function isMountPoint(path: string, table: MountEntry[] = readMountInfo()): boolean {
  const want = resolve(path);
  return table.some((e) => e.mountPoint === want);
}

/**
 * The mount points below `dir` (a real path, as the table holds them; `dir` itself excluded), deepest first:
 * the order they can be unmounted in.
 */
export function mountsBelow(dir: string, table: MountEntry[] = readMountInfo()): string[] {
  return table
    .map((e) => e.mountPoint)
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** The lower directories of every overlay mounted now (`lowerdir=a:b` of each). */
export function overlayLowerDirs(table: MountEntry[] = readMountInfo()): Set<string> {
  const dirs = new Set<string>();
  for (const e of table) {
    if (e.fsType !== "overlay") continue;
    for (const o of e.superOptions) {
      if (o.startsWith("lowerdir=")) for (const d of o.slice("lowerdir=".length).split(":")) dirs.add(d);
    }
  }
  return dirs;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}
