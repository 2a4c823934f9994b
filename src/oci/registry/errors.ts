/**
 * Registry failures as `ShimError`s that keep the registry's own words. distribution-spec error bodies are
 * `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"...","detail":...}]}`; like go-containerregistry's
 * `transport.Error`, we keep the codes, say whether a retry could help, and name the request. Only the URL
 * path is shown: queries carry upload session state, and credentials never go into a URL.
 */
import { Code, formatDurationSetting, ShimError } from "../../internal/index.js";
import { errorCode } from "./retry.js";
import { DEFAULT_REGISTRY_TIMEOUT_MS, raiseTimeoutAdvice, stallPhase } from "./timeouts.js";
import { TransportError } from "./transport.js";

/** One entry of a distribution-spec error body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/** What a failed request was, for messages. */
export interface FailedRequest {
  /** What the caller wanted, for the start of the message: `manifest ghcr.io/a/b:v1`, `blob sha256:...`. */
  what: string;
  method: string;
  url: URL;
  /** The registry as the user named it (`docker.io`), for the login hint. */
  registry: string;
}

/** Parses an error body; anything that is not the distribution-spec shape gives []. */
export function parseRegistryErrors(body: Uint8Array | string): RegistryErrorEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === "string" ? body : Buffer.from(body).toString("utf8"));
  } catch {
    return [];
  }
  const errors = (json as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
    .map((e) => {
      const entry: RegistryErrorEntry = {
        code: typeof e.code === "string" ? e.code : "UNKNOWN",
        message: typeof e.message === "string" ? e.message : "",
      };
      if (e.detail !== undefined) entry.detail = e.detail;
      return entry;
    });
}

/** The gRPC code for an HTTP status, and whether the same request may succeed later. */
export function codeForStatus(status: number): { code: Code; temporary: boolean } {
  if (status === 401) return { code: Code.Unauthenticated, temporary: false };
  if (status === 403) return { code: Code.PermissionDenied, temporary: false };
  if (status === 404) return { code: Code.NotFound, temporary: false };
  if (status === 429) return { code: Code.ResourceExhausted, temporary: true };
  if (status === 408) return { code: Code.Unavailable, temporary: true };
  if (status === 413) return { code: Code.ResourceExhausted, temporary: false };
  if (status === 416) return { code: Code.OutOfRange, temporary: false };
  if (status === 405 || status === 501) return { code: Code.Unimplemented, temporary: false };
  if (status >= 500) return { code: Code.Unavailable, temporary: true };
  if (status >= 400) return { code: Code.InvalidArgument, temporary: false };
  return { code: Code.Unknown, temporary: false };
}

/** What to try next, by status. */
function hint(status: number, registry: string, retryAfterMs?: number): string {
  if (status === 401 || status === 403) {
    return `check the repository name and your access; try \`docker login ${registry}\` or set credentials in ~/.docker/config.json`;
  }
  if (status === 404) return "check the repository name, tag and digest";
  if (status === 429) {
    const wait =
      retryAfterMs === undefined ? "" : ` (the registry asks to wait ${Math.ceil(retryAfterMs / 1000)} s)`;
    return `the registry is rate limiting; wait and try again${wait}, or log in for a higher limit`;
  }
  if (status >= 500 || status === 408) return "the registry is failing or overloaded; try again later";
  return "";
}

/**
 * The error for a registry answer outside what the caller expected. `body` is the (capped) response body;
 * `details` carries `{status, errors, url}` for `--json` output.
 */
export function registryError(
  req: FailedRequest,
  status: number,
  body: Uint8Array | undefined,
  retryAfterMs?: number,
): ShimError {
  const errors = body ? parseRegistryErrors(body) : [];
  const { code, temporary } = codeForStatus(status);
  const said = errors.length
    ? errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join("; ")
    : plainText(body);
  const tip = hint(status, req.registry, retryAfterMs);
  const msg =
    `${req.what}: ${req.method} ${req.url.host}${req.url.pathname} returned HTTP ${status}` +
    (said ? ` (${said})` : "") +
    (tip ? `; ${tip}` : "");
  const details: Record<string, unknown> = { status, errors, url: `${req.url.origin}${req.url.pathname}` };
  if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
  return new ShimError(code, msg, { details, temporary });
}

/** A short, single-line excerpt of a non-JSON error body (HTML error pages from proxies are common). */
function plainText(body: Uint8Array | undefined): string {
  if (!body || body.length === 0) return "";
  const text = Buffer.from(body).toString("utf8");
  if (/^\s*</.test(text)) return "";
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/** What is known about a failed exchange besides its error: for messages. */
export interface ConnectionFailure {
  /** The timeout in force (timeouts.ts), for a stall's message. */
  timeoutMs?: number;
  /** How many times the request was sent. */
  tries?: number;
  /** Body bytes received before a response body broke or stalled. */
  bytes?: number;
  /** The peer stalled as often as the retry policy allows (retry.ts `stallAttempts`): no caller should retry. */
  wedged?: boolean;
}

/**
 * The error for a request that got no usable HTTP answer (refused, reset, stalled, TLS or DNS failure), after
 * retries. A peer that stalled past the timeout is DeadlineExceeded, naming the host that went silent and in
 * which phase; anything else is Unavailable. A TLS "wrong version number" usually means an HTTP-only registry
 * reached over https, so it names `--plain-http`.
 */
export function connectionError(req: FailedRequest, err: unknown, o: ConnectionFailure = {}): ShimError {
  if (err instanceof ShimError) return err;
  const url = err instanceof TransportError ? err.url : req.url;
  const request = `${req.what}: ${req.method} ${url.host}${url.pathname}`;
  const tries = o.tries !== undefined && o.tries > 1 ? ` (${o.tries} tries)` : "";
  const details = { url: `${url.origin}${url.pathname}`, errno: errorCode(err) };
  const phase = stallPhase(err);
  if (phase) {
    const t = o.timeoutMs === undefined ? "the timeout" : formatDurationSetting(o.timeoutMs);
    const after = o.bytes === undefined ? "" : ` after ${o.bytes} bytes`;
    const what = {
      connect: `could not connect to ${url.host} within ${t}`,
      headers:
        err instanceof TransportError && err.sentBody
          ? `${url.host} stopped taking the request body, or did not answer it, within ${t}`
          : `connected to ${url.host}, but no answer came within ${t}`,
      body: `${url.host} stopped sending the response: nothing for ${t}${after}`,
      document: `${url.host} did not send the whole response within ${t}${after}`,
    }[phase];
    return new ShimError(
      Code.DeadlineExceeded,
      `${request}: ${what}${tries}; the registry or a proxy in front of it stalled; ${raiseTimeoutAdvice(o.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS)}`,
      { cause: err, temporary: !o.wedged, details: { ...details, phase } },
    );
  }
  const code = errorCode(err);
  const text = err instanceof Error ? err.message : String(err);
  const tls = /wrong version number|EPROTO|ssl|tls|certificate/i.test(`${code} ${text}`);
  const tip = tls
    ? "if this registry serves plain HTTP, use --plain-http; otherwise check its certificate"
    : "check the registry host and port and your network, then try again";
  const temporary = !tls && code !== "ENOTFOUND";
  const broke = o.bytes === undefined ? "failed" : `broke after ${o.bytes} bytes of the response`;
  return new ShimError(
    Code.Unavailable,
    `${request} ${broke}${tries}: ${code ? `${code}: ` : ""}${text}; ${tip}`,
    { cause: err, temporary, details },
  );
}
