/**
 * How the image commands run a long transfer (pull, push, copy, build --push): progress on stderr unless
 * quiet (bars on a terminal, lines otherwise), Ctrl-C as an abort of the transfer (a second Ctrl-C exits 130
 * at once), errors as content errors, and a closing `done NAME in 1.2s, fetched 3 MiB` line under the progress.
 */
import { Code, ShimError } from "../internal/index.js";
import type { CopyEvent, PullEvent } from "../oci/index.js";
import type { CliContext } from "./context.js";
import { asContentError } from "./exit-code.js";
import { formatDuration } from "./format.js";
import type { ProgressWords } from "./progress-lines.js";
import { noticeLine } from "./store-notices.js";

export interface TransferOptions {
  /** Whether to show progress (not with `-q` or `--json`). */
  progress: boolean;
  /** What an interruption cancels, for its message: `pull of REF`. */
  what: string;
  words?: ProgressWords;
}

export interface Transfer {
  signal: AbortSignal;
  /** Progress when it is shown; otherwise the store's notices alone (store-notices.ts). */
  onEvent: (e: PullEvent | CopyEvent) => void;
}

/** Runs `work`; `done(result)` names what was transferred and how much, for the closing line. */
export async function runTransfer<T>(
  ctx: CliContext,
  opts: TransferOptions,
  work: (t: Transfer) => Promise<T>,
  done: (result: T) => { name: string; moved: string },
): Promise<T> {
  const progress = opts.progress
    ? ctx.stderrIsTTY
      ? (await import("./progress-bars.js")).createBarProgress(process.stderr, opts.words)
      : (await import("./progress-lines.js")).createLineProgress(ctx.err, Date.now, opts.words)
    : undefined;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new ShimError(Code.Canceled, opts.what));
  };
  process.on("SIGINT", onSigint);
  const started = Date.now();
  let result: T;
  try {
    result = await work({
      signal: controller.signal,
      onEvent: progress
        ? (e: PullEvent | CopyEvent) => progress.onEvent(e)
        : (e: PullEvent | CopyEvent) => {
            const line = noticeLine(e);
            if (line) ctx.err(line);
          },
    });
    progress?.stop(true);
  } catch (err) {
    progress?.stop(false);
    // Whatever the transfer threw on its way out, an abort we asked for is an interruption.
    throw controller.signal.aborted ? controller.signal.reason : asContentError(err);
  } finally {
    process.off("SIGINT", onSigint);
  }
  if (progress) {
    const { name, moved } = done(result);
    ctx.err(`done ${name} in ${formatDuration(Date.now() - started)}, ${moved}\n`);
  }
  return result;
}
