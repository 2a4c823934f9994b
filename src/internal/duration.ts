/**
 * Durations as people write them in flags and environment variables (`30s`, `2m`, `1500ms`, `90`), and back.
 * One grammar for every such setting, so `--registry-timeout 2m` and `NODEWASI_REGISTRY_TIMEOUT=2m` mean the
 * same and an error message can print a setting in the form it was given.
 */
import { invalidArgument } from "./shim-error.js";

/**
 * The longest duration a setting may hold: Node's timers take at most 2^31-1 ms (about 24.8 days), and a
 * longer value would silently fire at once. A day is far beyond any sensible wait; 0 means "never".
 */
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `<number>[ms|s|m|h]` (no unit: seconds; decimals allowed: `0.5s`) into whole milliseconds. `what`
 * names the setting in the InvalidArgument error (`--registry-timeout`, `NODEWASI_REGISTRY_TIMEOUT`).
 */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  const ms = m ? Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? "s").toLowerCase()]!) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw invalidArgument(
      `${what}: ${JSON.stringify(text)} is not a duration; write a number with a unit, such as 30s, 2m or 500ms (0 for none)`,
    );
  }
  if (ms > MAX_DURATION_MS) {
    throw invalidArgument(`${what}: ${text} is longer than a day; give at most 24h, or 0 for none`);
  }
  return ms;
}

/** A duration in the largest unit that holds it exactly: `2m`, `30s`, `1500ms`, `0s`. */
export function formatDurationSetting(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
