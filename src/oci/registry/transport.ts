/**
 * HTTP for the registry client: one undici `Agent` (a keep-alive `Pool` per origin) and redirects followed by
 * hand. undici's own redirect handling is not used because the distribution spec says clients "MUST NOT
 * forward Authorization headers across host boundaries" (distribution-spec commit dbaac7b) and blob
 * redirects to S3 or GitHub's storage must arrive there without the registry's token; containerd likewise
 * caps redirects at 10 and authorizes per host.
 */
import type { Readable } from "node:stream";
import type { Agent } from "undici";
import type { IncomingHttpHeaders } from "undici/types/header.js";
import { Code, ShimError } from "../../internal/index.js";
import { redirectRefusal } from "./hosts.js";
import { loadAgentClass } from "./undici-agent.js";

/** A request body that can be sent again (for redirects and retries): bytes, or a factory of streams. */
export type ReplayableBody = Buffer | (() => Readable);

/** One HTTP exchange before redirects; `authorization` is bound to one origin. */
export interface SendRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: ReplayableBody;
  signal?: AbortSignal;
  /** Sent only to this exact origin (scheme, host and port), never to a redirect target elsewhere. */
  authorization?: { origin: string; value: string };
}

/** The final answer after redirects. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body stream; read it, or `dump()` it to free the connection. */
  body: Readable & { dump(opts?: { limit: number }): Promise<void> };
  /** The URL that answered (after redirects). */
  url: URL;
}

/** Connection settings of the client. */
export interface TransportOptions {
  userAgent: string;
  /** Connections per origin (default 6, the browsers' figure). */
  connections?: number;
  /** Whether redirects may go from https to plain http on non-loopback hosts. */
  plainHttp?: boolean;
  /**
   * The longest silence of a peer, in ms (timeouts.ts): undici's connect, headers and body timeouts. 0 turns
   * them off; unset leaves undici's defaults (10 s to connect, 300 s for headers and between body bytes).
   */
  timeoutMs?: number;
}

/**
 * A request that got no usable answer (refused, reset, timed out), with the URL it went to: after a redirect
 * that is the host that failed (a blob's storage host, say), not the registry the request began at.
 */
export class TransportError extends Error {
  constructor(
    readonly url: URL,
    /** Whether the request had a body (a timeout waiting for headers may then mean an upload that stalled). */
    readonly sentBody: boolean,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "TransportError";
  }
}

/** containerd `core/remotes/docker/resolver.go` and Go's net/http both stop after 10 redirects. */
export const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The HTTP layer: keep-alive connections per origin, redirects by hand; knows nothing of auth or retries. */
export class Transport {
  /**
   * Made at the first request: undici takes longer to load than Node takes to boot, and most processes that
   * make a Transport never send (a shim daemon under containerd, whose rootfs comes unpacked). Only the
   * agent's own files are loaded (undici-agent.ts).
   */
  #agent: Promise<Agent> | undefined;
  readonly #opts: TransportOptions;

  constructor(opts: TransportOptions) {
    this.#opts = opts;
  }

  #getAgent(): Promise<Agent> {
    const t = this.#opts.timeoutMs;
    this.#agent ??= loadAgentClass().then(
      (Agent) =>
        new Agent({
          connections: this.#opts.connections ?? 6,
          keepAliveTimeout: 30_000,
          // undici's headers timer also runs while an upload waits for the peer to take more bytes, so one
          // setting bounds a registry that stops reading a PUT or PATCH too.
          ...(t !== undefined ? { connectTimeout: t, headersTimeout: t, bodyTimeout: t } : {}),
        }),
    );
    return this.#agent;
  }

  /**
   * Sends a request, following up to 10 redirects. GET and HEAD follow every redirect kind; other methods
   * follow only 307/308 (which keep method and body), and 303 turns into a GET. A redirect to another
   * origin drops `Authorization`; a redirect from https to http is refused unless plain HTTP is allowed.
   */
  async send(req: SendRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { "user-agent": this.#opts.userAgent, ...req.headers };
      delete headers.authorization; // only ever from req.authorization, which is bound to one origin
      if (req.authorization && url.origin === req.authorization.origin) {
        headers.authorization = req.authorization.value;
      }
      if (body === undefined) delete headers["content-length"];
      const agent = await this.#getAgent();
      const res = await agent
        .request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: method as "GET",
          headers,
          body: typeof body === "function" ? body() : (body ?? null),
          signal: req.signal ?? null,
        })
        .catch((err: unknown) => {
          throw new TransportError(url, body !== undefined, err);
        });
      const location = res.headers.location;
      const follow =
        REDIRECTS.has(res.statusCode) &&
        typeof location === "string" &&
        (method === "GET" || method === "HEAD" || res.statusCode === 303 || res.statusCode >= 307);
      if (!follow) {
        return { status: res.statusCode, headers: res.headers, body: res.body, url };
      }
      await res.body.dump().catch(() => {});
      if (hop >= MAX_REDIRECTS) {
        throw new ShimError(
          Code.Unavailable,
          `${req.method} ${req.url.host}${req.url.pathname}: more than ${MAX_REDIRECTS} redirects (last to ${url.host}); the registry or a proxy is misconfigured`,
        );
      }
      const next = new URL(location, url);
      this.#checkRedirect(req, url, next);
      if (res.statusCode === 303 && method !== "HEAD") {
        method = "GET";
        body = undefined;
      }
      url = next;
    }
  }

  #checkRedirect(req: SendRequest, from: URL, to: URL): void {
    const why = redirectRefusal(from, to, this.#opts.plainHttp ?? false);
    if (why) {
      throw new ShimError(
        Code.PermissionDenied,
        `${req.method} ${req.url.host}${req.url.pathname}: refusing redirect from ${from.host} to ${to.protocol}//${to.host}: ${why}`,
      );
    }
  }

  /**
   * Refuses new requests and closes connections. Requests still streaming (a body nobody finished reading)
   * get a second to end, then are destroyed, so an abandoned blob stream cannot keep `close()` hanging.
   */
  async close(): Promise<void> {
    if (!this.#agent) return;
    const agent = await this.#agent;
    // undici's close() waits for unread bodies forever, even after destroy(); race the two instead.
    let timer: NodeJS.Timeout | undefined;
    const destroyed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        agent.destroy().then(resolve, resolve);
      }, 1000);
    });
    await Promise.race([agent.close().catch(() => {}), destroyed]);
    clearTimeout(timer);
  }
}
