/**
 * What `nodewasi push` and `nodewasi copy` share: progress on stderr (bars on a terminal, lines otherwise,
 * with push's words), Ctrl-C as an abort (a second one exits at once), and the result on stdout as a summary,
 * the digest alone (`-q`) or JSON (`--json`).
 */
import { Code, ShimError } from "../internal/index.js";
import type { CopyOptions, CopyResult } from "../oci/index.js";
import type { CliContext } from "./context.js";
import { formatBytes } from "./format.js";
import type { ProgressWords } from "./progress-lines.js";
import { runTransfer } from "./transfer.js";

/** The flags both commands take. */
export interface CopyFlags {
  plainHttp?: boolean;
  chunkSize?: string;
  quiet?: boolean;
  json?: boolean;
}

/** Help lines for the shared flags, in the order commander prints them. */
export const COPY_OUTPUT_HELP = `
Blobs the destination has are not sent again ("exists"); on one registry, blobs of the source repository are
mounted instead of uploaded ("mounted"). An index goes with every manifest it names, digests unchanged.
Progress goes to stderr: bars on a terminal, plain lines otherwise.`;

/** Parses `--chunk-size` (bytes, or with a KiB/MiB suffix: 16MiB). Throws InvalidArgument. */
export function parseChunkSize(text: string): number {
  const m = /^(\d+)\s*(B|KiB|MiB|GiB)?$/i.exec(text.trim());
  const unit = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[(m?.[2] ?? "b").toLowerCase()] ?? 1;
  const n = m ? Number(m[1]) * unit : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new ShimError(
      Code.InvalidArgument,
      `--chunk-size ${JSON.stringify(text)} is not a positive size; give bytes or a size such as 16MiB`,
    );
  }
  return n;
}

/**
 * Runs `work` (a push or copy) with progress and Ctrl-C handling, then prints its result. `what` names it in
 * the interruption message.
 */
export async function runCopy(
  ctx: CliContext,
  flags: CopyFlags,
  what: string,
  words: ProgressWords,
  work: (opts: CopyOptions) => Promise<CopyResult>,
): Promise<void> {
  const result = await copyWithProgress(ctx, flags, what, words, work);
  if (flags.json) ctx.out(`${JSON.stringify(result, null, 2)}\n`);
  else if (flags.quiet) ctx.out(`${result.digest}\n`);
  else ctx.out(copySummary(result));
}

/**
 * Runs `work` as `runCopy` does (progress and its closing `done` line on stderr unless `-q` or `--json`,
 * Ctrl-C as an abort, errors as content errors) and returns its result without printing it: `build --push`
 * prints one result for both steps.
 */
export async function copyWithProgress(
  ctx: CliContext,
  flags: CopyFlags,
  what: string,
  words: ProgressWords,
  work: (opts: CopyOptions) => Promise<CopyResult>,
): Promise<CopyResult> {
  const chunk = flags.chunkSize === undefined ? undefined : parseChunkSize(flags.chunkSize);
  return runTransfer(
    ctx,
    { progress: !flags.quiet && !flags.json, what, words },
    (t) =>
      work({
        logger: ctx.logger,
        signal: t.signal,
        ...(flags.plainHttp ? { plainHttp: true } : {}),
        ...(ctx.registryTimeoutMs !== undefined ? { registryTimeoutMs: ctx.registryTimeoutMs } : {}),
        ...(chunk !== undefined ? { chunkThreshold: 0, chunkSize: chunk } : {}),
        ...(t.onEvent ? { onEvent: t.onEvent } : {}),
      }),
    (r) => ({
      name: r.destination,
      moved: r.bytesUploaded ? `sent ${formatBytes(r.bytesUploaded)}` : "nothing sent",
    }),
  );
}

/** `3 uploaded (1.2 MiB), 1 already there, 0 mounted`: what happened to the blobs. */
export function blobsSummary(r: CopyResult): string {
  const { uploaded, exists, mounted } = r.blobs;
  return `${uploaded} uploaded (${formatBytes(r.bytesUploaded)}), ${exists} already there, ${mounted} mounted`;
}

/** The human summary on stdout: one `key: value` line per fact. */
export function copySummary(r: CopyResult): string {
  const rows: [string, string][] = [
    ["source", r.source],
    ["destination", r.destination],
    ["digest", r.digest],
    ["type", r.mediaType],
    ["manifests", String(r.manifests)],
    ["blobs", blobsSummary(r)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join("");
}
