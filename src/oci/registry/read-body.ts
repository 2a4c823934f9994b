/** Reading response bodies with a size cap, so a hostile or broken server cannot make us buffer gigabytes. */
import { PassThrough, type Readable } from "node:stream";
import type { IncomingHttpHeaders } from "undici/types/header.js";
import { DocumentTimeoutError } from "./timeouts.js";

/** Error bodies are read up to this size; the rest is dropped (the message only shows a summary). */
export const ERROR_BODY_MAX = 64 * 1024;

/**
 * Reads up to `max` bytes. Returns `{bytes, truncated}`; when the body is longer, reading stops as soon as the
 * cap is crossed and the stream is destroyed (its connection is not reused). With `deadlineMs` (> 0) the
 * whole body must arrive within that time, else it is destroyed with a `DocumentTimeoutError`: undici's body
 * timeout bounds silences only, and a peer sending a byte every few seconds would otherwise hold the read for
 * as long as it likes. A body that fails rejects with a `BodyReadError` holding the bytes read so far.
 */
export async function readCapped(
  body: Readable,
  max: number,
  opts: { deadlineMs?: number } = {},
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const timer = opts.deadlineMs
    ? setTimeout(() => body.destroy(new DocumentTimeoutError()), opts.deadlineMs)
    : undefined;
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      if (size + b.length > max) {
        chunks.push(b.subarray(0, max - size));
        discard(body);
        return { bytes: Buffer.concat(chunks), truncated: true };
      }
      chunks.push(b);
      size += b.length;
    }
    return { bytes: Buffer.concat(chunks), truncated: false };
  } catch (err) {
    throw new BodyReadError(size, err);
  } finally {
    clearTimeout(timer);
  }
}

/** A response body that broke or stalled while being read, after `bytes` bytes; `cause` says how. */
export class BodyReadError extends Error {
  constructor(
    readonly bytes: number,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "BodyReadError";
  }
}

/** One header as a string: repeated headers joined with ", " (valid for WWW-Authenticate lists). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/**
 * Drops a body we will not read. undici's body emits "Request aborted" when destroyed; nobody listens for it
 * here, so it is swallowed instead of becoming an uncaught exception.
 */
export function discard(body: Readable): void {
  body.on("error", () => {});
  body.destroy();
}

/**
 * `body` as a stream of its own that fails with `explain(err, bytesSoFar)` instead of the transport's bare
 * error ("Body Timeout Error" names neither the host nor the request). Backpressure passes through, so
 * undici's body timeout still waits while the reader is the slow side. Destroying the result drops `body`.
 */
export function explainedBody(body: Readable, explain: (err: unknown, bytes: number) => Error): Readable {
  const out = new PassThrough();
  let bytes = 0;
  body.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  body.on("error", (err) => out.destroy(explain(err, bytes)));
  out.on("close", () => {
    if (!body.destroyed) discard(body);
  });
  body.pipe(out);
  return out;
}
