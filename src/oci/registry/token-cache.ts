/**
 * Bearer tokens by (registry, scope set). A token is reused until shortly before its `expires_in` runs out
 * (token.md: 60 s when omitted), so a pull with many blobs asks the token server once, not once per blob.
 */

/** Seconds of lifetime a token server grants when it says nothing (distribution token.md). */
export const DEFAULT_TOKEN_SECONDS = 60;
/** Tokens are dropped this long before they expire, so a request never leaves with a dying token. */
const MARGIN_MS = 5_000;

/** Tokens by registry and scope set; `now` is injectable so tests control expiry. */
export class TokenCache {
  readonly #entries = new Map<string, { token: string; expiresAt: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The key is order- and duplicate-insensitive in scopes. */
  static key(registry: string, scopes: readonly string[]): string {
    return `${registry}\n${[...new Set(scopes)].sort().join(" ")}`;
  }

  get(registry: string, scopes: readonly string[]): string | undefined {
    const key = TokenCache.key(registry, scopes);
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (this.#now() >= e.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.token;
  }

  /** Stores a token; `expiresInSeconds` missing or not positive means the 60 s default. */
  set(registry: string, scopes: readonly string[], token: string, expiresInSeconds?: number): void {
    const secs =
      expiresInSeconds !== undefined && Number.isFinite(expiresInSeconds) && expiresInSeconds > 0
        ? expiresInSeconds
        : DEFAULT_TOKEN_SECONDS;
    const lifetime = secs * 1000;
    const expiresAt = this.#now() + Math.max(lifetime / 2, lifetime - MARGIN_MS);
    this.#entries.set(TokenCache.key(registry, scopes), { token, expiresAt });
  }

  /**
   * Files the token cached for `from` under `to` as well, with the same expiry: a token fetched for merged
   * scopes also serves requests that asked for fewer.
   */
  alias(registry: string, from: readonly string[], to: readonly string[]): void {
    const e = this.#entries.get(TokenCache.key(registry, from));
    if (e) this.#entries.set(TokenCache.key(registry, to), { ...e });
  }

  /** Forgets a token that the registry refused, so the next request fetches a fresh one. */
  delete(registry: string, scopes: readonly string[]): void {
    this.#entries.delete(TokenCache.key(registry, scopes));
  }
}
