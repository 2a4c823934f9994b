/**
 * Pull progress as bars on a terminal (cli-progress): the resolved digest, chosen platform and format as
 * lines above, then one bar per layer with its short digest, bytes done of total and speed. Bars stay drawn
 * when the pull ends, so the screen shows what was fetched and what was cached.
 */
import { MultiBar, Presets, type SingleBar } from "cli-progress";
import { type CopyEvent, formatPlatform, type PullEvent } from "../oci/index.js";
import { formatBytes, formatRate, shortDigest } from "./format.js";
import {
  manifestKind,
  type ProgressWords,
  PULL_WORDS,
  type PullProgress,
  skippedWord,
} from "./progress-lines.js";
import { repairedLine, waitingLine } from "./store-notices.js";

interface BarState {
  bar: SingleBar;
  size: number;
  startedAt: number;
  offset: number;
}

/** Renders events as bars on `stream` (a TTY). */
export function createBarProgress(
  stream: NodeJS.WriteStream,
  words: ProgressWords = PULL_WORDS,
): PullProgress {
  const multibar = new MultiBar(
    {
      stream,
      format: " {digest}  {bar}  {done} / {size}  {status}",
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      fps: 10,
      // The pull command owns SIGINT: it aborts the pull, and stop() restores the cursor on the way out.
      gracefulExit: false,
    },
    Presets.shades_classic,
  );
  const bars = new Map<string, BarState>();
  const after: string[] = [];
  // Before the first bar the multibar is not drawing and would hold log lines until it does: write directly.
  const log = (line: string) => (multibar.isActive ? multibar.log(`${line}\n`) : stream.write(`${line}\n`));
  const payload = (digest: string, size: number, done: number, status: string) => ({
    digest: shortDigest(digest, { algorithm: true }),
    size: formatBytes(size),
    done: formatBytes(done),
    status,
  });
  const barFor = (digest: string, size: number, offset: number): BarState => {
    let b = bars.get(digest);
    if (!b) {
      const bar = multibar.create(Math.max(size, 1), offset, payload(digest, size, offset, "waiting"));
      b = { bar, size, startedAt: Date.now(), offset };
      bars.set(digest, b);
    }
    return b;
  };
  const speed = (b: BarState, done: number) => {
    const secs = (Date.now() - b.startedAt) / 1000;
    return secs > 0.05 ? formatRate((done - b.offset) / secs) : "";
  };

  return {
    onEvent(e: PullEvent | CopyEvent) {
      switch (e.type) {
        case "resolved":
          log(`resolved ${e.name} to ${e.digest}`);
          break;
        case "selected":
          log(`platform ${formatPlatform(e.platform)}, format ${e.format}`);
          break;
        case "blob-start": {
          const b = barFor(e.digest, e.size, e.offset);
          b.startedAt = Date.now();
          b.offset = e.offset;
          b.bar.update(e.offset, payload(e.digest, e.size, e.offset, e.offset ? "resuming" : ""));
          break;
        }
        case "blob-progress": {
          const b = barFor(e.digest, e.size, 0);
          b.bar.update(e.done, payload(e.digest, e.size, e.done, speed(b, e.done)));
          break;
        }
        case "blob-done": {
          const b = barFor(e.digest, e.size, 0);
          const status = e.cached ? skippedWord(e) : `done ${speed(b, e.size)}`.trim();
          b.bar.update(Math.max(e.size, 1), payload(e.digest, e.size, e.size, status));
          break;
        }
        case "blob-retry": {
          const b = bars.get(e.digest);
          b?.bar.update(e.offset, { status: `retry ${e.attempt}: ${e.reason}` });
          break;
        }
        case "manifest":
          after.push(
            `${words.done} ${e.top ? "" : "child "}${manifestKind(e.mediaType)} ${shortDigest(e.digest, { algorithm: true })} ${formatBytes(e.size)}`,
          );
          break;
        case "extracted":
          // Said after the bars, in stop(): above them it would read as if it came before the downloads.
          after.push(
            `${e.cached ? "module already extracted" : "extracted module"} ${shortDigest(e.module, { algorithm: true })} ${formatBytes(e.size)}`,
          );
          break;
        case "waiting":
          log(waitingLine(e));
          break;
        case "repaired":
          log(repairedLine(e));
          break;
      }
    },
    stop() {
      if (multibar.isActive) {
        // update() draws the bars' final state and flushes log lines still buffered; stop() then leaves them.
        multibar.update();
        multibar.stop();
      }
      for (const line of after.splice(0)) stream.write(`${line}\n`);
    },
  };
}
