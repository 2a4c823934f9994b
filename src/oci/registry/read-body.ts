/** Reading response bodies with a size cap, so a hostile or broken server cannot make us buffer gigabytes. */
import type { Readable } from "node:stream";
import type { IncomingHttpHeaders } from "undici/types/header.js";

/** Error bodies are read up to this size; the rest is dropped (the message only shows a summary). */
export const ERROR_BODY_MAX = 64 * 1024;

/**
 * Reads up to `max` bytes. Returns `{bytes, truncated}`; when the body is longer, reading stops as soon as the
 * cap is crossed and the stream is destroyed (its connection is not reused).
 */
export async function readCapped(
  body: Readable,
  max: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
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
