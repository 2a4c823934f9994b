/**
 * Authenticated, retried requests to one or more registries: the layer between the HTTP transport and the
 * registry operations. A request names the scopes it needs and the statuses it can handle; every other
 * answer becomes a `ShimError` with the registry's error codes. 401s go to the authenticator (at most two
 * rounds: a fresh token, then one with merged scopes); 408, 429, 5xx and connection faults are retried with
 * full-jitter backoff, honouring `Retry-After`. PATCH is never retried: a chunk may already have landed. A
 * peer that stays silent past the timeout (timeouts.ts) gets two tries, not five (retry.ts `stallAttempts`),
 * and the error names the host that stalled and the phase.
 */
import { Code, type Logger, ShimError, sleep } from "../../internal/index.js";
import { Authenticator, type PlainFetch } from "./auth.js";
import type { CredentialProvider } from "./credentials.js";
import { connectionError, type FailedRequest, registryError } from "./errors.js";
import { registryBaseUrl } from "./hosts.js";
import { BodyReadError, discard, ERROR_BODY_MAX, header, readCapped } from "./read-body.js";
import {
  backoffMs,
  DEFAULT_RETRY,
  isRetryableStatus,
  parseRetryAfter,
  type RetryOptions,
  triesAgain,
} from "./retry.js";
import { stallPhase } from "./timeouts.js";
import { type HttpResponse, type ReplayableBody, Transport } from "./transport.js";

/** A token server's answer is read up to this size; a token is a few KiB. */
const TOKEN_BODY_MAX = 1 << 20;

/** One registry request: where, what it needs (scopes), and which answers the caller handles. */
export interface RegistryRequest {
  /** The registry as named in the reference (`docker.io`, `localhost:5000`). */
  registry: string;
  method: string;
  /** Path on the registry (`/v2/<name>/manifests/<ref>`), or... */
  path?: string;
  /** ...a full URL, for upload locations the registry handed out. */
  url?: URL;
  headers?: Record<string, string>;
  body?: ReplayableBody;
  /** Token scopes the request needs, e.g. `repository:library/hello:pull`. */
  scopes: readonly string[];
  /** Statuses handed back to the caller; anything else is thrown. */
  expect: readonly number[];
  /** Start of error messages: `manifest ghcr.io/a/b:v1`. */
  what: string;
  signal?: AbortSignal;
  /** Whether sending twice is harmless (default: every method but PATCH). */
  idempotent?: boolean;
}

/** Settings shared by every request of a client. */
export interface RegistryHttpOptions {
  userAgent: string;
  plainHttp?: boolean;
  credentials?: CredentialProvider | undefined;
  logger: Logger;
  retry?: Partial<RetryOptions>;
  connections?: number;
  /** The longest silence of a peer in ms (timeouts.ts); 0 for none. */
  timeoutMs: number;
  now?: () => number;
}

/** The request engine behind `RegistryClient` and the push functions; one per client. */
export class RegistryHttp {
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  readonly #retry: Required<RetryOptions>;
  readonly #plainHttp: boolean;
  readonly #logger: Logger;
  /** The timeout in force, for messages and for the deadline of document reads. */
  readonly timeoutMs: number;

  constructor(opts: RegistryHttpOptions) {
    this.#plainHttp = opts.plainHttp ?? false;
    this.#logger = opts.logger;
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.timeoutMs = opts.timeoutMs;
    this.#transport = new Transport({
      userAgent: opts.userAgent,
      plainHttp: this.#plainHttp,
      timeoutMs: opts.timeoutMs,
      ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
    });
    this.#auth = new Authenticator({
      fetch: (r) => this.#plainFetch(r),
      credentials: opts.credentials,
      logger: opts.logger,
      plainHttp: this.#plainHttp,
      clientId: "nodewasi",
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /** `https://host` (or `http://` for loopback and `--plain-http`) for a registry name. */
  baseUrl(registry: string): URL {
    return registryBaseUrl(registry, this.#plainHttp);
  }

  /** Sends a registry request; see the module comment for auth and retry rules. */
  async request(req: RegistryRequest): Promise<HttpResponse> {
    const base = this.baseUrl(req.registry);
    const url = req.url ?? new URL(req.path ?? "/v2/", base);
    const failed: FailedRequest = { what: req.what, method: req.method, url, registry: req.registry };
    const canRetry = req.idempotent ?? req.method !== "PATCH";
    let authRounds = 0;
    let stalls = 0;
    for (let attempt = 1; ; attempt++) {
      const auth = await this.#auth.authorization(req.registry, req.scopes, req.signal);
      let res: HttpResponse;
      try {
        res = await this.#transport.send({
          url,
          method: req.method,
          headers: req.headers ?? {},
          ...(req.body !== undefined ? { body: req.body } : {}),
          ...(req.signal ? { signal: req.signal } : {}),
          ...(auth ? { authorization: { origin: base.origin, value: auth } } : {}),
        });
      } catch (err) {
        if (req.signal?.aborted) throw ShimError.from(req.signal.reason ?? err);
        if (err instanceof ShimError) throw err;
        if (stallPhase(err)) stalls++;
        if (canRetry && triesAgain(err, attempt, stalls, this.#retry)) {
          await this.#wait(failed, attempt, undefined, String((err as Error).message), req.signal);
          continue;
        }
        throw connectionError(failed, err, {
          timeoutMs: this.timeoutMs,
          tries: attempt,
          wedged: stalls >= this.#retry.stallAttempts,
        });
      }
      this.#logger.debug("registry answered", {
        request: `${req.method} ${url.host}${url.pathname}`,
        status: res.status,
        ...(res.url !== url ? { from: res.url.host } : {}),
      });
      if (req.expect.includes(res.status)) return res;
      const body = await readCapped(res.body, ERROR_BODY_MAX, { deadlineMs: this.timeoutMs }).catch(
        () => undefined,
      );
      if (res.status === 401 && authRounds < 2 && res.url.origin === base.origin) {
        authRounds++;
        const challenge = header(res.headers, "www-authenticate");
        if (await this.#auth.onChallenge(req.registry, challenge, req.scopes, auth, req.signal)) {
          attempt--;
          continue;
        }
      }
      const retryAfter = parseRetryAfter(header(res.headers, "retry-after"));
      const error = registryError({ ...failed, url: res.url }, res.status, body?.bytes, retryAfter);
      if (!canRetry || !isRetryableStatus(res.status) || attempt >= this.#retry.attempts) throw error;
      if (retryAfter !== undefined && retryAfter > this.#retry.retryAfterMaxMs) throw error;
      await this.#wait(failed, attempt, retryAfter, `HTTP ${res.status}`, req.signal);
    }
  }

  /**
   * Sends `req` and reads its body whole: at most `max` bytes (more is `tooBig("declares N bytes, more")` from the
   * Content-Length, or `tooBig("sent more")`), within the timeout. A body that breaks or stalls is asked for
   * again under the same policy as a request without an answer. For manifests and indexes.
   */
  async requestDocument(
    req: RegistryRequest,
    max: number,
    tooBig: (said: string) => ShimError,
  ): Promise<{ res: HttpResponse; bytes: Buffer }> {
    let stalls = 0;
    for (let attempt = 1; ; attempt++) {
      const res = await this.request(req);
      const declared = Number(header(res.headers, "content-length"));
      if (declared > max) {
        discard(res.body);
        throw tooBig(`declares ${declared} bytes, more`);
      }
      const read = await this.#readBody(res, max).catch((err: unknown) => err as Error);
      if (!(read instanceof Error)) {
        if (read.truncated) throw tooBig("sent more");
        return { res, bytes: read.bytes };
      }
      if (req.signal?.aborted) throw ShimError.from(req.signal.reason ?? read);
      if (stallPhase(read)) stalls++;
      const failed: FailedRequest = {
        what: req.what,
        method: req.method,
        url: res.url,
        registry: req.registry,
      };
      const bytes = read instanceof BodyReadError ? read.bytes : undefined;
      const error = connectionError(failed, read.cause ?? read, {
        timeoutMs: this.timeoutMs,
        tries: attempt,
        wedged: stalls >= this.#retry.stallAttempts,
        ...(bytes !== undefined ? { bytes } : {}),
      });
      if (!triesAgain(read, attempt, stalls, this.#retry)) throw error;
      await this.#wait(failed, attempt, undefined, error.rawMessage, req.signal);
    }
  }

  /** Reads a document body within the timeout; a failure is a `BodyReadError`. */
  #readBody(res: HttpResponse, max: number): Promise<{ bytes: Buffer; truncated: boolean }> {
    return readCapped(res.body, max, { deadlineMs: this.timeoutMs });
  }

  /**
   * A request with no registry auth (token endpoints), retried like the rest, its body read within the
   * timeout (at most 1 MiB: a token is a few KiB); any final status is returned.
   */
  async #plainFetch(r: Parameters<PlainFetch>[0]): ReturnType<PlainFetch> {
    const failed: FailedRequest = {
      what: r.what,
      method: r.method,
      url: r.url,
      registry: r.url.host,
    };
    let stalls = 0;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      let bytes: Buffer;
      try {
        res = await this.#transport.send({
          url: r.url,
          method: r.method,
          headers: r.headers,
          ...(r.body ? { body: r.body } : {}),
          ...(r.signal ? { signal: r.signal } : {}),
          ...(r.authorization ? { authorization: { origin: r.url.origin, value: r.authorization } } : {}),
        });
        const read = await this.#readBody(res, TOKEN_BODY_MAX);
        if (read.truncated) {
          throw new ShimError(
            Code.ResourceExhausted,
            `${r.what}: ${r.method} ${res.url.host}${res.url.pathname} answered with more than ${TOKEN_BODY_MAX} bytes; refusing to read it (the token server is misbehaving)`,
          );
        }
        bytes = read.bytes;
      } catch (err) {
        if (r.signal?.aborted) throw ShimError.from(r.signal.reason ?? err);
        if (err instanceof ShimError) throw err;
        if (stallPhase(err)) stalls++;
        if (triesAgain(err, attempt, stalls, this.#retry)) {
          await this.#wait(failed, attempt, undefined, String((err as Error).message), r.signal);
          continue;
        }
        const got = err instanceof BodyReadError ? err.bytes : undefined;
        throw connectionError(failed, err instanceof BodyReadError ? err.cause : err, {
          timeoutMs: this.timeoutMs,
          tries: attempt,
          wedged: stalls >= this.#retry.stallAttempts,
          ...(got !== undefined ? { bytes: got } : {}),
        });
      }
      const retryAfter = parseRetryAfter(header(res.headers, "retry-after"));
      const again =
        isRetryableStatus(res.status) &&
        attempt < this.#retry.attempts &&
        (retryAfter === undefined || retryAfter <= this.#retry.retryAfterMaxMs);
      if (!again)
        return {
          status: res.status,
          bytes,
          ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
        };
      await this.#wait(failed, attempt, retryAfter, `HTTP ${res.status}`, r.signal);
    }
  }

  async #wait(
    req: FailedRequest,
    attempt: number,
    retryAfter: number | undefined,
    why: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const ms = retryAfter ?? backoffMs(attempt, this.#retry);
    this.#logger.debug("retrying registry request", {
      request: `${req.method} ${req.url.host}${req.url.pathname}`,
      why,
      attempt,
      waitMs: ms,
    });
    await sleep(ms, signal).catch((err: unknown) => {
      throw ShimError.from(signal?.reason ?? err);
    });
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }
}
