/**
 * Registry authentication (distribution `docs/spec/auth/token.md`, `oauth.md`): react to a 401 challenge,
 * then send either Basic credentials or a Bearer token fetched from the challenge's realm. Anonymous token
 * requests carry no Authorization at all (GHCR wants a Bearer token even for public images); identity tokens
 * use the OAuth2 POST with a fallback to GET on 404 (ggcr `transport/bearer.go` `refreshOauth`). Once a
 * registry is known to want Bearer, tokens for new scopes are fetched before the request, not after a
 * second 401, as containerd's authorizer does.
 */
import { Code, type Logger, redact, ShimError } from "../../internal/index.js";
import { type Challenge, challengeScopes, parseChallenges } from "./challenge.js";
import type { CredentialProvider, Credentials } from "./credentials.js";
import { registryError } from "./errors.js";
import { validateRealm } from "./hosts.js";
import { TokenCache } from "./token-cache.js";

/** A request without registry auth, retried and redirected, with its body read (capped). */
export type PlainFetch = (req: {
  /** Start of error messages: `token for ghcr.io (repository:a/b:pull)`. */
  what: string;
  url: URL;
  method: string;
  headers: Record<string, string>;
  /** Sent only to `url`'s origin, never along a redirect to another host. */
  authorization?: string;
  body?: Buffer;
  signal?: AbortSignal;
}) => Promise<{ status: number; bytes: Buffer; retryAfterMs?: number }>;

/** What the authenticator needs: a way to reach token servers, credentials, and the plain-HTTP policy. */
export interface AuthenticatorOptions {
  fetch: PlainFetch;
  credentials?: CredentialProvider | undefined;
  logger: Logger;
  plainHttp: boolean;
  /** OAuth2 `client_id` (token.md asks clients to name themselves). */
  clientId: string;
  now?: () => number;
}

type Mode = { scheme: "basic" } | { scheme: "bearer"; realm: URL; service: string | undefined };

/**
 * Per-client auth state: how each registry wants to be addressed (learned from its first 401), credentials
 * looked up once per registry, and the token cache. Safe to share between concurrent requests.
 */
export class Authenticator {
  readonly #opts: AuthenticatorOptions;
  readonly #modes = new Map<string, Mode>();
  readonly #creds = new Map<string, Promise<Credentials | undefined>>();
  readonly #inflight = new Map<string, Promise<string>>();
  readonly #tokens: TokenCache;

  constructor(opts: AuthenticatorOptions) {
    this.#opts = opts;
    this.#tokens = new TokenCache(opts.now);
  }

  /** The Authorization value for a request that needs `scopes`, or undefined while no challenge was seen. */
  async authorization(
    registry: string,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const mode = this.#modes.get(registry);
    if (!mode) return undefined;
    if (mode.scheme === "basic") {
      const c = await this.#credentials(registry);
      return c?.username !== undefined && c.password !== undefined
        ? basic(c.username, c.password)
        : undefined;
    }
    return `Bearer ${await this.#token(registry, mode, scopes, signal)}`;
  }

  /**
   * Learns from a 401: records how the registry wants to be addressed and gets a fresh token covering the
   * challenge's scopes as well as the request's. Returns whether the request should be sent again; false
   * when nothing new can be tried (no usable challenge, or Basic credentials already refused).
   */
  async onChallenge(
    registry: string,
    header: string | undefined,
    scopes: readonly string[],
    sent: string | undefined,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c: Challenge) => c.scheme === "bearer" && c.params.realm);
    if (bearer) {
      const realm = validateRealm(bearer.params.realm!, registry, this.#opts.plainHttp);
      const mode: Mode = { scheme: "bearer", realm, service: bearer.params.service };
      this.#modes.set(registry, mode);
      // ggcr puts the scopes the registry asked for first: "Some registries seem to only look at the first".
      const asked = challengeScopes(bearer);
      const wanted = [...asked.filter((s) => !scopes.includes(s)), ...scopes];
      // Drop a token only if it is the one just refused: a parallel request may already have fetched anew.
      for (const set of [scopes, wanted]) {
        if (sent !== undefined && sent === `Bearer ${this.#tokens.get(registry, set)}`)
          this.#tokens.delete(registry, set);
      }
      await this.#token(registry, mode, wanted, signal);
      this.#tokens.alias(registry, wanted, scopes);
      return true;
    }
    if (challenges.some((c) => c.scheme === "basic")) {
      this.#modes.set(registry, { scheme: "basic" });
      const c = await this.#credentials(registry);
      return c?.username !== undefined && c.password !== undefined && !sent?.startsWith("Basic ");
    }
    this.#opts.logger.debug("401 without a usable challenge", { registry, challenge: header ?? "" });
    return false;
  }

  async #credentials(registry: string): Promise<Credentials | undefined> {
    let p = this.#creds.get(registry);
    if (!p) {
      p =
        this.#opts.credentials?.get(registry).catch((err: unknown) => {
          this.#opts.logger.debug("credential lookup failed; continuing anonymously", {
            registry,
            error: err instanceof Error ? err.message : String(err),
          });
          return undefined;
        }) ?? Promise.resolve(undefined);
      p = p.then((c) => {
        this.#opts.logger.debug(c ? "using credentials" : "no credentials; anonymous access", {
          registry,
          ...(c?.username !== undefined ? { username: c.username, password: redact(c.password) } : {}),
          ...(c?.identityToken ? { identityToken: redact(c.identityToken) } : {}),
          ...(c?.registryToken ? { registryToken: redact(c.registryToken) } : {}),
        });
        return c;
      });
      this.#creds.set(registry, p);
    }
    return p;
  }

  /** A cached token, or one fetched (concurrent requests for the same scopes share one fetch). */
  async #token(
    registry: string,
    mode: Extract<Mode, { scheme: "bearer" }>,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<string> {
    const cached = this.#tokens.get(registry, scopes);
    if (cached) return cached;
    const key = TokenCache.key(registry, scopes);
    let p = this.#inflight.get(key);
    if (!p) {
      // Shared by every request waiting for these scopes, so it runs without any one caller's signal;
      // each caller stops waiting on its own abort (below). Token requests are bounded by their retries.
      p = this.#fetchToken(registry, mode, scopes).finally(() => this.#inflight.delete(key));
      p.catch(() => {}); // a caller that gave up must not leave an unhandled rejection behind
      this.#inflight.set(key, p);
    }
    return signal ? untilAborted(p, signal) : p;
  }

  async #fetchToken(
    registry: string,
    mode: Extract<Mode, { scheme: "bearer" }>,
    scopes: readonly string[],
  ): Promise<string> {
    const creds = await this.#credentials(registry);
    if (creds?.registryToken) return creds.registryToken;
    const what = `token for ${registry} (${scopes.join(" ") || "no scope"})`;
    const fail = (method: string, url: URL, r: { status: number; bytes: Buffer; retryAfterMs?: number }) =>
      registryError({ what, method, url, registry }, r.status, r.bytes, r.retryAfterMs);
    if (creds?.identityToken) {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: creds.identityToken,
        client_id: this.#opts.clientId,
      });
      if (mode.service) form.set("service", mode.service);
      if (scopes.length) form.set("scope", scopes.join(" "));
      const r = await this.#opts.fetch({
        what,
        url: mode.realm,
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: Buffer.from(form.toString()),
      });
      if (r.status === 200) return this.#accept(registry, scopes, r.bytes, mode.realm, "POST");
      if (r.status !== 404) throw fail("POST", mode.realm, r);
      this.#opts.logger.debug("token realm has no OAuth2 endpoint; falling back to GET", { registry });
    }
    const url = new URL(mode.realm);
    if (mode.service) url.searchParams.append("service", mode.service);
    for (const s of scopes) url.searchParams.append("scope", s);
    const login = creds?.username !== undefined && creds.password !== undefined;
    const r = await this.#opts.fetch({
      what,
      url,
      method: "GET",
      headers: {},
      ...(login ? { authorization: basic(creds.username!, creds.password!) } : {}),
    });
    if (r.status !== 200) throw fail("GET", url, r);
    return this.#accept(registry, scopes, r.bytes, url, "GET");
  }

  #accept(registry: string, scopes: readonly string[], bytes: Buffer, url: URL, method: string): string {
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(bytes.toString("utf8")) as typeof body;
    } catch {
      body = {};
    }
    const token =
      typeof body.token === "string" && body.token
        ? body.token
        : typeof body.access_token === "string"
          ? body.access_token
          : "";
    if (!token) {
      throw new ShimError(
        Code.Unauthenticated,
        `token for ${registry}: ${method} ${url.host}${url.pathname} answered 200 without a token; the token server is misbehaving`,
      );
    }
    const expires = typeof body.expires_in === "number" ? body.expires_in : undefined;
    this.#tokens.set(registry, scopes, token, expires);
    this.#opts.logger.debug("got registry token", {
      registry,
      scopes: scopes.join(" "),
      expiresIn: expires ?? 60,
    });
    return token;
  }
}

/** `p`, or the signal's reason as a `ShimError` (Canceled) as soon as it aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(ShimError.from(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(ShimError.from(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
