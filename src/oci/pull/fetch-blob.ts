/**
 * Downloads one blob into the content store, resuming a broken download with a Range request from where the
 * partial data ends (the store's ingest keeps it). Request-level retries (5xx, 429, resets before the body)
 * happen inside the registry client, so a failure to open the blob is final here; this loop covers what
 * breaks mid-body and content that fails verification, with its own bounded backoff. A blob enters the store
 * only after its size and digest match.
 */
import { Code, type Digest, ShimError, sleep } from "../../internal/index.js";
import type { Descriptor, ImageSource } from "../image/index.js";
import type { ContentStore, PullEvent } from "../store/index.js";
import type { Tee } from "./tee.js";

export interface FetchBlobOptions {
  attempts?: number;
  baseDelayMs?: number;
  onEvent?: (e: PullEvent) => void;
  signal?: AbortSignal;
  /** Also feed the bytes of the first attempt, if it starts at offset 0, to this side branch (tee.ts). */
  tee?: Tee;
}

/** Node and undici errors that mean "the connection broke", so a resume can help. */
const BROKEN = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
  "UND_ERR_ABORTED",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "Z_BUF_ERROR",
]);

/**
 * Stalls a download survives: one resume gets past a connection that a NAT or load balancer dropped
 * silently; a second stall means a wedged peer, and more tries would keep the user waiting a timeout each
 * (the registry client gives a stalled request two tries too: registry/retry.ts `stallAttempts`). The bytes
 * received stay in the ingest, so pulling again resumes where the download stopped.
 */
export const STALL_ATTEMPTS = 2;

/** Whether `err` says a peer went silent past the registry timeout (the registry client's DeadlineExceeded). */
export function isStall(err: unknown): boolean {
  return err instanceof ShimError && err.code === Code.DeadlineExceeded;
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof ShimError) {
    if (err.code === Code.Canceled) return false;
    return err.temporary || (err.cause !== undefined && isRetryable(err.cause));
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && BROKEN.has(code);
}

/**
 * Ensures `desc` is in the store. Returns the number of bytes fetched over the wire (0 when it was already
 * stored). Fails with the last error once `attempts` (default 5) are used up.
 */
export async function fetchBlob(
  store: Pick<ContentStore, "ingest">,
  source: ImageSource,
  desc: Descriptor,
  opts: FetchBlobOptions = {},
): Promise<number> {
  const attempts = opts.attempts ?? 5;
  const emit = opts.onEvent ?? (() => {});
  const digest: Digest = desc.digest;
  let fetched = 0;
  let tee = opts.tee;
  let stalls = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      const result = await fetchAttempt(attempt);
      if (result !== undefined) return result;
    }
  } finally {
    tee?.fail(new Error(`the download of ${digest} did not stream from its start`));
  }

  /**
   * Opens the blob at `offset`. The source retried request-level failures already, so they are final here;
   * a 416 to a resume (the registry cannot serve that range) starts over from 0.
   */
  async function openAt(offset: number) {
    try {
      return await source.openBlob(desc, offset, opts.signal);
    } catch (err) {
      const e = ShimError.from(err, Code.Unavailable);
      if (offset > 0 && e.code === Code.OutOfRange) return source.openBlob(desc, 0, opts.signal);
      throw e;
    }
  }

  /** One try: the bytes fetched once the blob is stored, or undefined to try again. */
  async function fetchAttempt(attempt: number): Promise<number | undefined> {
    const ingest = await store.ingest(desc, opts.signal);
    let offset = 0;
    let opening = true;
    try {
      if (ingest.complete) {
        emit({ type: "blob-done", digest, size: desc.size, cached: fetched === 0 });
        return fetched;
      }
      const side = tee;
      tee = undefined;
      if (ingest.offset === desc.size) {
        // A crash between the last byte and the commit left it all: verify and keep it (a mismatch
        // discards it, and the next attempt starts over). Asking the registry for nothing would get a 416.
        opening = false;
        side?.fail(new Error(`the download of ${digest} resumed at its end`));
        await ingest.commit();
        emit({ type: "blob-done", digest, size: desc.size, cached: false });
        return fetched;
      }
      const opened = await openAt(ingest.offset);
      opening = false;
      offset = opened.offset;
      emit({ type: "blob-start", digest, size: desc.size, offset, mediaType: desc.mediaType });
      let done = offset;
      const streaming = side && offset === 0 ? side : undefined;
      if (side && !streaming) side.fail(new Error(`the download of ${digest} resumed at ${offset}`));
      const body = streaming ? opened.stream.pipe(streaming.tap()) : opened.stream;
      if (streaming) opened.stream.once("error", (err) => body.destroy(err));
      try {
        await ingest.write(body, offset, (n) => {
          done += n;
          fetched += n;
          emit({ type: "blob-progress", digest, size: desc.size, done });
        });
        await ingest.commit();
      } catch (err) {
        streaming?.fail(err as Error);
        throw err;
      }
      streaming?.end();
      emit({ type: "blob-done", digest, size: desc.size, cached: false });
      return fetched;
    } catch (err) {
      if (isStall(err)) stalls++;
      const wedged = stalls >= STALL_ATTEMPTS;
      if (opening || wedged || attempt >= attempts || !isRetryable(err) || opts.signal?.aborted) {
        throw ShimError.from(err, Code.Unavailable);
      }
      const delayMs =
        Math.min(5000, (opts.baseDelayMs ?? 200) * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      const reason = err instanceof Error ? err.message : String(err);
      emit({ type: "blob-retry", digest, offset: ingest.offset, attempt, delayMs, reason });
      await sleep(delayMs, opts.signal);
      return undefined;
    } finally {
      await ingest.release();
    }
  }
}
