/**
 * When a registry request may be tried again, and how long to wait first. The policy is oras-go's
 * (`registry/remote/retry/policy.go`: 5 attempts, exponential backoff with jitter, `Retry-After` honoured on
 * 429) with containerd's status list (`core/remotes/docker/resolver.go`: 408, 429, 5xx) and AWS-style "full
 * jitter", so many clients hitting one overloaded registry spread out instead of retrying in lockstep.
 */
import { stallPhase } from "./timeouts.js";

/** Retry tuning; tests use a tiny `baseMs` so backoff costs milliseconds. */
export interface RetryOptions {
  /** Total tries including the first (default 5, as containerd `maxAttempts` and oras-go `MaxRetry`). */
  attempts: number;
  /** Backoff base in ms: try n waits a random time in [0, min(maxMs, baseMs * 2^(n-1))]. */
  baseMs: number;
  /** Backoff cap in ms. */
  maxMs: number;
  /**
   * The longest `Retry-After` we wait for (default 60 s). A registry asking for more is answered with an error
   * at once, naming the wait, rather than a pull that hangs for an hour.
   */
  retryAfterMaxMs?: number;
  /**
   * Tries of a request whose peer stalled past the timeout (timeouts.ts), counted within `attempts` (default
   * 2). One more try gets past a connection a load balancer or NAT dropped silently; a peer silent twice in a
   * row is wedged, and five tries would keep the user waiting five timeouts before saying so.
   */
  stallAttempts?: number;
}

/** 5 tries, 200 ms base, 5 s cap: at most about 10 s of waiting before a failure is reported. */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = {
  attempts: 5,
  baseMs: 200,
  maxMs: 5_000,
  retryAfterMaxMs: 60_000,
  stallAttempts: 2,
};

/** 408, 429 and the 5xx answers that mean "overloaded or restarting", not "you asked wrong". */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504
  );
}

/** Socket-level failures where the request may not have reached the registry, or its answer was cut. */
const RETRYABLE_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "NODEWASI_DOCUMENT_TIMEOUT",
]);

/** Whether `err` (or anything in its `cause` chain) is a connection fault worth another try. */
export function isRetryableError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && RETRYABLE_ERROR_CODES.has(code)) return true;
  }
  return false;
}

/**
 * Whether a request that got no usable answer is sent again: a connection fault, with tries left, and not
 * the `stallAttempts`-th stall. `stalls` counts the stalls so far, this one included.
 */
export function triesAgain(
  err: unknown,
  attempt: number,
  stalls: number,
  o: Required<RetryOptions>,
): boolean {
  if (!isRetryableError(err) || attempt >= o.attempts) return false;
  return stallPhase(err) === undefined || stalls < o.stallAttempts;
}

/** The error code (errno or undici code) of `err` or its causes, for messages. */
export function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** Full-jitter backoff before try `attempt + 1` (attempt counts from 1). */
export function backoffMs(attempt: number, o: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) in ms from now: delay-seconds or an HTTP-date. Undefined when absent or
 * unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
