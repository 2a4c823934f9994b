/**
 * Judging runs: an outcome against the test's spec (as wasi-testsuite's runner does: the exit status always,
 * stdout and stderr only when the spec gives them, exactly), and the shim's outcome against the direct one
 * (exit status and stdout equal, stderr equal once its run-dependent numbers are masked: see stableStderr).
 */
import type { Outcome } from "./direct.js";
import type { CaseSpec, ConformanceCase } from "./suite.js";

/** One way of running a case: what it produced (or why it could not run) and whether that meets the spec. */
export interface RunResult {
  outcome?: Outcome;
  /** Set when the run failed before the guest could run (instantiation, Create, pull...). */
  error?: string;
  pass: boolean;
  /** Empty when it passes; else what was wrong, in one line. */
  why: string;
}

export interface CaseResult {
  case: ConformanceCase;
  direct: RunResult;
  shim: RunResult;
  /** The shim produced exactly what node:wasi did (false when either could not run). */
  same: boolean;
}

/** The verdict on an outcome, or on a run that ended in `error`. */
export function judge(spec: CaseSpec, outcome: Outcome | undefined, error?: string): RunResult {
  if (!outcome)
    return { error: error ?? "no outcome", pass: false, why: `did not run: ${oneLine(error ?? "")}` };
  const wrong: string[] = [];
  if (outcome.exitCode !== spec.exitCode) wrong.push(`exit ${outcome.exitCode}, expected ${spec.exitCode}`);
  for (const key of ["stdout", "stderr"] as const) {
    const want = spec[key];
    if (want !== undefined && outcome[key] !== want) {
      wrong.push(`${key} ${JSON.stringify(clip(outcome[key]))}, expected ${JSON.stringify(clip(want))}`);
    }
  }
  if (wrong.length > 0 && outcome.stderr.trim() && spec.stderr === undefined) {
    wrong.push(`stderr: ${oneLine(outcome.stderr)}`);
  }
  return { outcome, pass: wrong.length === 0, why: wrong.join("; ") };
}

/**
 * Whether two outcomes are the same: status and stdout exactly, stderr as stableStderr shows it. Two runs of
 * one guest never agree on a clock, a file's mtime or an inode number, and a failing test prints them (the
 * Rust wasip1 tests fd_filestat_set and symlink_filestat panic with both mtimes in nanoseconds): comparing
 * those bytes called the shim different from node:wasi when only the moment differed.
 */
export function sameOutcome(a: Outcome | undefined, b: Outcome | undefined): boolean {
  return (
    !!a &&
    !!b &&
    a.exitCode === b.exitCode &&
    a.stdout === b.stdout &&
    stableStderr(a.stderr) === stableStderr(b.stderr)
  );
}

/**
 * `stderr` with its run-dependent numbers masked as `#`: every decimal run of four or more digits (clock
 * readings, mtimes, inode and device numbers) and every hex number of four or more digits (addresses).
 * Shorter numbers stay, so a panic's source line, an errno or an exit code printed by the guest still count.
 */
export function stableStderr(stderr: string): string {
  return stderr.replace(/\b0x[0-9a-f]{4,}\b|\d{4,}/gi, "#");
}

/** What differs between the direct and the shim outcome, for the report and `--check` output. */
export function difference(r: CaseResult): string {
  const d = r.direct.outcome;
  const s = r.shim.outcome;
  if (!d || !s) return `direct: ${r.direct.why || "ran"}; shim: ${r.shim.why || "ran"}`;
  const out: string[] = [];
  if (d.exitCode !== s.exitCode) out.push(`exit ${s.exitCode} through the shim, ${d.exitCode} directly`);
  const differs = {
    stdout: d.stdout !== s.stdout,
    stderr: stableStderr(d.stderr) !== stableStderr(s.stderr),
  };
  for (const key of ["stdout", "stderr"] as const) {
    if (differs[key]) {
      out.push(
        `${key} ${JSON.stringify(clip(s[key]))} through the shim, ${JSON.stringify(clip(d[key]))} directly`,
      );
    }
  }
  return out.join("; ");
}

function clip(s: string, max = 120): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** The text on one line, whitespace runs collapsed, clipped. */
export function oneLine(s: string, max = 200): string {
  return clip(s.replace(/\s+/g, " ").trim(), max);
}
