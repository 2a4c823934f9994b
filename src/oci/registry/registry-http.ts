/**
 * Authenticated, retried requests to one or more registries: the layer between the HTTP transport and the
 * registry operations. A request names the scopes it needs and the statuses it can handle; every other
 * answer becomes a `ShimError` with the registry's error codes. 401s go to the authenticator (at most two
 * rounds: a fresh token, then one with merged scopes); 408, 429, 5xx and connection faults are retried with
 * full-jitter backoff, honouring `Retry-After`. PATCH is never retried: a chunk may already have landed.
 */
import { type Logger, ShimError, sleep } from "../../internal/index.js";
import { Authenticator, type PlainFetch } from "./auth.js";
import type { CredentialProvider } from "./credentials.js";
import { connectionError, type FailedRequest, registryError } from "./errors.js";
import { registryBaseUrl } from "./hosts.js";
import { ERROR_BODY_MAX, header, readCapped } from "./read-body.js";
import {
  backoffMs,
  DEFAULT_RETRY,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  type RetryOptions,
} from "./retry.js";
import { type HttpResponse, type ReplayableBody, Transport } from "./transport.js";

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
  now?: () => number;
}

/** The request engine behind `RegistryClient` and the push functions; one per client. */
export class RegistryHttp {
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  readonly #retry: Required<RetryOptions>;
  readonly #plainHttp: boolean;
  readonly #logger: Logger;

  constructor(opts: RegistryHttpOptions) {
    this.#plainHttp = opts.plainHttp ?? false;
    this.#logger = opts.logger;
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#transport = new Transport({
      userAgent: opts.userAgent,
      plainHttp: this.#plainHttp,
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
        if (canRetry && isRetryableError(err) && attempt < this.#retry.attempts) {
          await this.#wait(failed, attempt, undefined, String((err as Error).message), req.signal);
          continue;
        }
        throw connectionError(failed, err);
      }
      this.#logger.debug("registry answered", {
        request: `${req.method} ${url.host}${url.pathname}`,
        status: res.status,
        ...(res.url !== url ? { from: res.url.host } : {}),
      });
      if (req.expect.includes(res.status)) return res;
      const body = await readCapped(res.body, ERROR_BODY_MAX).catch(() => undefined);
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

  /** A request with no registry auth (token endpoints), retried like the rest; any final status is returned. */
  async #plainFetch(r: Parameters<PlainFetch>[0]): ReturnType<PlainFetch> {
    const failed: FailedRequest = {
      what: "token request",
      method: r.method,
      url: r.url,
      registry: r.url.host,
    };
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.#transport.send({
          url: r.url,
          method: r.method,
          headers: r.headers,
          ...(r.body ? { body: r.body } : {}),
          ...(r.signal ? { signal: r.signal } : {}),
          ...(r.authorization ? { authorization: { origin: r.url.origin, value: r.authorization } } : {}),
        });
      } catch (err) {
        if (r.signal?.aborted) throw ShimError.from(r.signal.reason ?? err);
        if (err instanceof ShimError) throw err;
        if (isRetryableError(err) && attempt < this.#retry.attempts) {
          await this.#wait(failed, attempt, undefined, String((err as Error).message), r.signal);
          continue;
        }
        throw connectionError(failed, err);
      }
      const { bytes } = await readCapped(res.body, 1 << 20);
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
