/**
 * Human formatting for the `nodewasi` command: sizes, rates, durations, short digests and aligned tables.
 * Only what people read goes through here; `--json` output keeps exact numbers and full digests.
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/**
 * Bytes in binary units, as `ls -h` and docker print them: `0 B`, `999 B`, `1.2 KiB`, `15.0 MiB`, `123 MiB`.
 * One decimal below 100 of a unit, none above; negative or non-finite input prints as `?`.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "?";
  if (n < 1024) return `${Math.round(n)} B`;
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // 1023.96 KiB would print as "1024.0 KiB": carry into the next unit instead.
  if (Number(value.toFixed(1)) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value < 100 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A transfer rate: `formatBytes(bytesPerSecond) + "/s"`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * A duration for people: `850ms`, `1.2s`, `59.9s`, `1m05s`, `1h02m`. Sub-second values keep milliseconds
 * because a cached pull takes that long and "0.0s" would hide it.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) {
    const s = ms / 1000;
    // 59.96 s would round to "60.0s": print it as a minute.
    if (Number(s.toFixed(1)) < 60) return `${s.toFixed(1)}s`;
  }
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 3600) {
    const m = Math.floor(totalSeconds / 60);
    return `${m}m${String(totalSeconds % 60).padStart(2, "0")}s`;
  }
  const totalMinutes = Math.round(totalSeconds / 60);
  const h = Math.floor(totalMinutes / 60);
  return `${h}h${String(totalMinutes % 60).padStart(2, "0")}m`;
}

export interface ShortDigestOptions {
  /** Hex characters to keep (default 12, as docker prints image ids). */
  length?: number;
  /** Keep the `sha256:` prefix (default false). */
  algorithm?: boolean;
}

/**
 * A digest shortened for tables and progress lines: `sha256:0123456789abcdef...` -> `0123456789ab`
 * (or `sha256:0123456789ab` with `algorithm`). A string without an algorithm prefix is shortened as is.
 */
export function shortDigest(digest: string, opts: ShortDigestOptions = {}): string {
  const length = opts.length ?? 12;
  const colon = digest.indexOf(":");
  const alg = colon >= 0 ? digest.slice(0, colon) : "";
  const hex = colon >= 0 ? digest.slice(colon + 1) : digest;
  const short = hex.slice(0, length);
  return opts.algorithm && alg ? `${alg}:${short}` : short;
}

/**
 * Aligns rows under headers in columns separated by three spaces, as `docker images` and `ctr` print them.
 * The last column is not padded, so lines carry no trailing blanks. Cells are printed as given.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, col) => Math.max(...all.map((row) => (row[col] ?? "").length)));
  const line = (row: readonly string[]) =>
    headers
      .map((_, col) => {
        const cell = row[col] ?? "";
        return col === headers.length - 1 ? cell : cell.padEnd(widths[col]!);
      })
      .join("   ")
      .trimEnd();
  return `${all.map(line).join("\n")}\n`;
}

/** `1 blob`, `2 blobs`: a count with its noun in the right number (regular plurals only). */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
