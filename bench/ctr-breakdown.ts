/**
 * Where the time of one `ctr run --rm` goes, read from the private containerd's debug log (bench/ctr.ts):
 * containerd stamps each line with `time="..."`, the shims' log lines are copied into it (nodewasi's daemon
 * stamps its own, runc's shim logs through logrus), and the bench knows when ctr started and ended. Marks, in
 * the order they occur for one run:
 *
 * - `get snapshot mounts` (the last one before the shim is up): containerd begins the task's Create;
 * - the shim daemon's first line (nodewasi `serving ...`, runc `starting signal loop`): the daemon listens;
 * - `event forwarded` TaskCreate, TaskStart, TaskExit, TaskDelete: the shim's events as containerd gets them;
 * - `remove snapshot`: ctr removes the container, after containerd ran the shim binary's `delete`.
 */

/** Phase names, in order; each is the time from the previous mark to its own. */
export const PHASES = [
  "ctr until task create",
  "shim start, daemon up",
  "Create",
  "Start",
  "guest runs, exits",
  "Delete",
  "shim exits + delete",
  "ctr after",
] as const;

export type Phase = (typeof PHASES)[number];

const MARKS: readonly (RegExp | undefined)[] = [
  undefined, // ctr start (given)
  /msg="get snapshot mounts"/,
  /: serving |msg="starting signal loop"/,
  /topic=\/tasks\/create /,
  /topic=\/tasks\/start /,
  /topic=\/tasks\/exit /,
  /topic=\/tasks\/delete /,
  /msg="remove snapshot"/,
  undefined, // ctr end (given)
];

/** The time of a log line (`time="2026-01-02T03:04:05.123456789Z"`, or its millisecond form), or NaN. */
export function lineTime(line: string): number {
  const m = /time="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z"/.exec(line);
  if (!m) return Number.NaN;
  return Date.parse(`${m[1]}${(m[2] ?? ".0").slice(0, 4)}Z`);
}

/**
 * The phases of one run from `log` (containerd's log lines written during it) and ctr's start and end (ms
 * since the epoch). A mark that is missing merges its phase into the next one (undefined there).
 */
export function breakdown(log: string, start: number, end: number): Partial<Record<Phase, number>> {
  const lines = log.split("\n");
  const at: (number | undefined)[] = [start];
  let from = 0;
  for (let i = 1; i < MARKS.length - 1; i++) {
    let found = lines.findIndex((l, j) => j >= from && MARKS[i]!.test(l));
    if (i === 1) {
      // The mounts are asked for twice (container create, then task create): the last ask before the shim's
      // first line or event is the task's.
      while (found >= 0 && found + 1 < lines.length) {
        const next = lines.findIndex(
          (l, j) => j > found && (MARKS[1]!.test(l) || /: serving |signal loop|topic=\/tasks\//.test(l)),
        );
        if (next < 0 || !MARKS[1]!.test(lines[next]!)) break;
        found = next;
      }
    }
    const t = found < 0 ? Number.NaN : lineTime(lines[found]!);
    at.push(Number.isNaN(t) ? undefined : t);
    if (found >= 0) from = found + 1;
  }
  at.push(end);
  const out: Partial<Record<Phase, number>> = {};
  let prev = 0;
  for (let i = 1; i < at.length; i++) {
    if (at[i] === undefined) continue;
    out[PHASES[i - 1]!] = at[i]! - at[prev]!;
    prev = i;
  }
  return out;
}
