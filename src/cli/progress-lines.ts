/**
 * Pull progress as plain lines, for a stderr that is a pipe, a file or a CI log: one line per step, no
 * carriage returns or colours, so logs read well and tests can match them. Bytes-in-flight events are not
 * printed (they would flood a log); each blob says when it starts and when it is done, with its speed.
 */
import { type CopyEvent, formatPlatform, type PullEvent } from "../oci/index.js";
import { formatBytes, formatDuration, formatRate, shortDigest } from "./format.js";
import { repairedLine, waitingLine } from "./store-notices.js";

/** Something that renders pull's or push's events as they come and is stopped before the summary is printed. */
export interface PullProgress {
  onEvent(event: PullEvent | CopyEvent): void;
  /** Ends the display (bars are left drawn); `ok` says whether the pull succeeded. */
  stop(ok: boolean): void;
}

/** The verbs of a transfer: pull fetches, push and copy send. */
export interface ProgressWords {
  /** `fetching`, `pushing`. */
  start: string;
  /** `fetched`, `pushed`. */
  done: string;
}

export const PULL_WORDS: ProgressWords = { start: "fetching", done: "fetched" };
export const PUSH_WORDS: ProgressWords = { start: "pushing", done: "pushed" };
export const COPY_WORDS: ProgressWords = { start: "copying", done: "copied" };

/** What a blob that was not sent is called: pull's `cached`, or push's `exists` / `mounted`. */
export function skippedWord(e: { cached: boolean; outcome?: string }): string {
  return e.outcome === "exists" || e.outcome === "mounted" ? e.outcome : "cached";
}

/** A digest as progress lines print it: `sha256:0123456789ab`. */
const short = (d: string) => shortDigest(d, { algorithm: true });

/** Renders events as lines through `write` (one call per line, newline included). `now` is for tests. */
export function createLineProgress(
  write: (line: string) => void,
  now: () => number = Date.now,
  words: ProgressWords = PULL_WORDS,
): PullProgress {
  const started = new Map<string, { at: number; offset: number }>();
  return {
    onEvent(e) {
      const line = describe(e, started, now(), words);
      if (line !== undefined) write(`${line}\n`);
    },
    stop() {},
  };
}

function describe(
  e: PullEvent | CopyEvent,
  started: Map<string, { at: number; offset: number }>,
  t: number,
  words: ProgressWords,
): string | undefined {
  switch (e.type) {
    case "resolved":
      return `resolved ${e.name} to ${e.digest}`;
    case "selected": {
      const total = e.layers.reduce((sum, l) => sum + l.size, 0);
      const layers = `${e.layers.length} ${e.layers.length === 1 ? "layer" : "layers"}, ${formatBytes(total)}`;
      return `platform ${formatPlatform(e.platform)}, format ${e.format} (manifest ${short(e.manifest.digest)}, ${layers})`;
    }
    case "blob-start":
      started.set(e.digest, { at: t, offset: e.offset });
      return e.offset > 0
        ? `${words.start} ${short(e.digest)} ${formatBytes(e.size)} (resuming at ${formatBytes(e.offset)})`
        : `${words.start} ${short(e.digest)} ${formatBytes(e.size)}`;
    case "blob-progress":
      return undefined;
    case "blob-done": {
      if (e.cached) return `${skippedWord(e)} ${short(e.digest)} ${formatBytes(e.size)}`;
      const s = started.get(e.digest);
      if (!s) return `${words.done} ${short(e.digest)} ${formatBytes(e.size)}`;
      const ms = Math.max(t - s.at, 1);
      return `${words.done} ${short(e.digest)} ${formatBytes(e.size)} in ${formatDuration(ms)} (${formatRate(((e.size - s.offset) * 1000) / ms)})`;
    }
    case "blob-retry":
      return `retrying ${short(e.digest)} at ${formatBytes(e.offset)} in ${formatDuration(e.delayMs)} (attempt ${e.attempt}): ${e.reason}`;
    case "manifest":
      return `${words.done} ${e.top ? "" : "child "}${manifestKind(e.mediaType)} ${short(e.digest)} ${formatBytes(e.size)}`;
    case "extracted":
      return e.cached
        ? `module ${short(e.module)} ${formatBytes(e.size)} already extracted`
        : `extracted module ${short(e.module)} ${formatBytes(e.size)}`;
    case "waiting":
      return waitingLine(e);
    case "repaired":
      return repairedLine(e);
    default:
      return undefined;
  }
}

/** `index` or `manifest`, by media type. */
export function manifestKind(mediaType: string): string {
  return /index|list/.test(mediaType) ? "index" : "manifest";
}
