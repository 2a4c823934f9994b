/**
 * A client for the OCI distribution API (opencontainers/distribution-spec) on undici: manifests and blobs
 * for pulls, and the push primitives that `nodewasi push` and test fixtures use. Requests share keep-alive
 * connections per origin, authenticate as docker does (see auth.ts, credentials.ts), follow redirects
 * without leaking credentials (transport.ts) and retry what can be retried (registry-http.ts).
 */
import type { Readable } from "node:stream";
import {
  Code,
  type Digest,
  dataLoss,
  isDigest,
  type Logger,
  ShimError,
  sha256,
  silentLogger,
} from "../../internal/index.js";
import type { Descriptor, FetchedManifest, OpenedBlob } from "../image/index.js";
// 4 MiB: the size distribution-spec says registries should accept, and oras-go `defaultMaxMetadataBytes`.
import { formatReference, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type Reference } from "../image/index.js";
import { repositoryScope } from "./challenge.js";
import { type CredentialProvider, DockerCredentials } from "./credentials.js";
import { connectionError } from "./errors.js";
import * as push from "./push-protocol.js";
import { discard, explainedBody, header } from "./read-body.js";
import { RegistryHttp } from "./registry-http.js";
import type { RetryOptions } from "./retry.js";
import { defaultRegistryTimeoutMs } from "./timeouts.js";

/** Client settings; every field is optional and the defaults suit `nodewasi pull`. */
export interface RegistryClientOptions {
  /** Speak plain HTTP to every registry (loopback registries always get plain HTTP). */
  plainHttp?: boolean;
  /** Default: `DockerCredentials` reading docker and podman config under `env`. */
  credentials?: CredentialProvider;
  logger?: Logger;
  userAgent?: string;
  retry?: Partial<RetryOptions>;
  /** Connections per origin (default 6). */
  connections?: number;
  /**
   * The longest a registry may stay silent, in ms (timeouts.ts): connecting, before answering, between body
   * bytes; 0 for no limit. Default: `$NODEWASI_REGISTRY_TIMEOUT` (read from `env`), else 30 s.
   */
  timeoutMs?: number;
  /** Environment for the default credential lookup. */
  env?: NodeJS.ProcessEnv;
  /** Clock for token expiry (tests). */
  now?: () => number;
}

/** What HEAD tells about a manifest. */
export interface ManifestHead {
  mediaType: string;
  digest: Digest;
  size: number;
}

/** A provider that never has credentials: anonymous access only. */
export const anonymous: CredentialProvider = { get: async () => undefined };

/**
 * One client serves many registries and repositories at once; share it across parallel downloads so
 * connections and tokens are reused. Every failure is a `ShimError` naming the request and what to try.
 */
export class RegistryClient {
  readonly #http: RegistryHttp;
  readonly #logger: Logger;

  constructor(opts: RegistryClientOptions = {}) {
    this.#logger = opts.logger ?? silentLogger;
    this.#http = new RegistryHttp({
      userAgent: opts.userAgent ?? `nodewasi/0.1 node/${process.versions.node}`,
      plainHttp: opts.plainHttp ?? false,
      credentials:
        opts.credentials ??
        new DockerCredentials({ logger: this.#logger, ...(opts.env ? { env: opts.env } : {}) }),
      logger: this.#logger,
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
      timeoutMs: opts.timeoutMs ?? defaultRegistryTimeoutMs(opts.env),
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /**
   * GETs a manifest or index by digest (when the reference has one; the tag is then ignored, as
   * distribution/reference reads `name:tag@digest`) or by tag. Reading stops past 4 MiB (`ResourceExhausted`);
   * the whole body must arrive within the timeout, and one that breaks or stalls is asked for again.
   * By digest the bytes must hash to it (`DataLoss`); by tag the digest is computed from the bytes, not
   * taken from `Docker-Content-Digest` (ggcr `fetcher.go` ignores that header for tags too).
   */
  async getManifest(
    ref: Reference,
    opts: { accept?: string; signal?: AbortSignal } = {},
  ): Promise<FetchedManifest> {
    const name = formatReference(ref);
    const { res, bytes } = await this.#http.requestDocument(
      {
        registry: ref.registry,
        method: "GET",
        path: `/v2/${ref.repository}/manifests/${ref.digest ?? ref.tag ?? "latest"}`,
        headers: { accept: opts.accept ?? MANIFEST_ACCEPT },
        scopes: [repositoryScope(ref.repository)],
        expect: [200],
        what: `manifest ${name}`,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      MAX_MANIFEST_BYTES,
      (said) => tooBig(name, said),
    );
    if (isHtml(header(res.headers, "content-type"), bytes)) {
      throw new ShimError(
        Code.Unavailable,
        `manifest ${name}: ${res.url.host} answered GET ${res.url.pathname} with an HTML page, not a manifest: a web server, proxy or login portal answers there instead of a registry; check the registry address and your network`,
        { details: { url: `${res.url.origin}${res.url.pathname}` } },
      );
    }
    const digest = sha256(bytes);
    if (ref.digest && digest !== ref.digest) {
      throw dataLoss(`manifest ${name}: the registry sent bytes that hash to ${digest}; refusing them`, {
        temporary: true,
        details: { expected: ref.digest, actual: digest },
      });
    }
    return { bytes, digest, mediaType: manifestMediaType(header(res.headers, "content-type"), bytes) };
  }

  /**
   * HEADs a manifest: its digest, size and type without the body (cheap tag -> digest resolution). Falls back
   * to GET when HEAD answers 405 or omits `Docker-Content-Digest`, as containerd's resolver does.
   */
  async headManifest(
    ref: Reference,
    opts: { accept?: string; signal?: AbortSignal } = {},
  ): Promise<ManifestHead> {
    const res = await this.#http.request({
      registry: ref.registry,
      method: "HEAD",
      path: `/v2/${ref.repository}/manifests/${ref.digest ?? ref.tag ?? "latest"}`,
      headers: { accept: opts.accept ?? MANIFEST_ACCEPT },
      scopes: [repositoryScope(ref.repository)],
      expect: [200, 405],
      what: `manifest ${formatReference(ref)}`,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    await res.body.dump().catch(() => {});
    const said = header(res.headers, "docker-content-digest");
    const size = Number(header(res.headers, "content-length"));
    const type = header(res.headers, "content-type");
    if (res.status === 200 && said && isDigest(said) && Number.isInteger(size) && type) {
      if (ref.digest && said !== ref.digest) {
        throw dataLoss(`manifest ${formatReference(ref)}: HEAD reports digest ${said}`, { temporary: true });
      }
      return { digest: said, size, mediaType: type.split(";")[0]!.trim().toLowerCase() };
    }
    const m = await this.getManifest(ref, opts);
    return { digest: m.digest, size: m.bytes.length, mediaType: m.mediaType };
  }

  /**
   * Opens a blob at `offset` (`Range: bytes=<offset>-`). A 200 answer to a Range request means the server
   * ignored it, so the result's `offset` is 0 and the caller restarts. Redirects to storage hosts are
   * followed without credentials. The stream is the body as sent, unverified: the caller hashes and verifies
   * it. It fails with a `ShimError` naming the host that answered: DeadlineExceeded when the body stalled
   * past the timeout, Unavailable when it broke; both temporary, so the caller may resume.
   */
  async openBlob(
    registry: string,
    repository: string,
    desc: Pick<Descriptor, "digest" | "size">,
    offset = 0,
    signal?: AbortSignal,
  ): Promise<OpenedBlob> {
    const what = `blob ${desc.digest} in ${registry}/${repository}`;
    const res = await this.#http.request({
      registry,
      method: "GET",
      path: `/v2/${repository}/blobs/${desc.digest}`,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      scopes: [repositoryScope(repository)],
      expect: offset > 0 ? [200, 206] : [200],
      what,
      ...(signal ? { signal } : {}),
    });
    const stream = () =>
      explainedBody(res.body, (err, bytes) =>
        signal?.aborted
          ? ShimError.from(signal.reason ?? err)
          : connectionError({ what, method: "GET", url: res.url, registry }, err, {
              timeoutMs: this.#http.timeoutMs,
              bytes,
            }),
      );
    if (res.status === 200) return { stream: stream(), offset: 0 };
    const range = /^bytes (\d+)-/.exec(header(res.headers, "content-range") ?? "");
    if (!range || Number(range[1]) !== offset) {
      discard(res.body);
      throw new ShimError(
        Code.Unavailable,
        `blob ${desc.digest} in ${registry}/${repository}: asked for bytes from ${offset}, got Content-Range ${JSON.stringify(header(res.headers, "content-range") ?? "")}`,
        { temporary: true },
      );
    }
    return { stream: stream(), offset };
  }

  /**
   * Checks that the registry speaks the distribution API and accepts our credentials: `GET /v2/` (end-1),
   * authenticating on a 401 like any request (a token with no scope). For `nodewasi login`-style checks;
   * pulls do not need it, since every request reacts to its own 401 (as containerd does).
   */
  async ping(registry: string, signal?: AbortSignal): Promise<void> {
    const res = await this.#http.request({
      registry,
      method: "GET",
      path: "/v2/",
      scopes: [],
      expect: [200],
      what: `registry ${registry}`,
      ...(signal ? { signal } : {}),
    });
    await res.body.dump().catch(() => {});
  }

  /** Whether `repo` holds the blob. */
  blobExists(
    registry: string,
    repo: string,
    desc: Pick<Descriptor, "digest">,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return push.blobExists(this.#http, registry, repo, desc, signal ? { signal } : {});
  }

  /** Cross-repository mount; false when the registry declined (upload instead). */
  mountBlob(
    registry: string,
    repo: string,
    fromRepo: string,
    desc: Pick<Descriptor, "digest">,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return push.mountBlob(this.#http, registry, repo, fromRepo, desc, signal ? { signal } : {});
  }

  /** Uploads a blob unless present (monolithic PUT, or PATCH chunks with `chunkSize`). */
  uploadBlob(
    registry: string,
    repo: string,
    desc: Pick<Descriptor, "digest" | "size">,
    data: Buffer | (() => Readable),
    opts: push.UploadOptions = {},
  ): Promise<void> {
    return push.uploadBlob(this.#http, registry, repo, desc, data, opts);
  }

  /** Puts a manifest under a tag or digest; returns its digest. */
  putManifest(
    registry: string,
    repo: string,
    tagOrDigest: string,
    bytes: Buffer,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<Digest> {
    return push.putManifest(this.#http, registry, repo, tagOrDigest, bytes, mediaType, {
      logger: this.#logger,
      ...(signal ? { signal } : {}),
    });
  }

  /** Closes pooled connections; the client cannot be used afterwards. */
  close(): Promise<void> {
    return this.#http.close();
  }
}

function tooBig(name: string, what: string): ShimError {
  return new ShimError(
    Code.ResourceExhausted,
    `manifest ${name}: the registry ${what} than the ${MAX_MANIFEST_BYTES}-byte manifest limit; refusing to read it (is this reference an image?)`,
    { details: { limit: MAX_MANIFEST_BYTES } },
  );
}

/**
 * Whether a 200 answer to a manifest request is a web page: served as HTML, or starting with `<` (no manifest
 * format does). Captive portals, misrouted proxies and web servers answer so; reporting it as a malformed or
 * corrupt manifest would send the user after the image instead of the network.
 */
function isHtml(contentType: string | undefined, bytes: Buffer): boolean {
  const ct = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (ct === "text/html" || ct === "application/xhtml+xml") return true;
  return /^\s*</.test(bytes.subarray(0, 64).toString("latin1"));
}

/**
 * The manifest's media type: `Content-Type` without parameters, or the body's `mediaType` when the registry
 * sent none or a generic JSON type (some registries and static servers do).
 */
export function manifestMediaType(contentType: string | undefined, bytes: Buffer): string {
  const ct = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (ct && ct !== "application/json" && ct !== "text/plain" && ct !== "application/octet-stream") return ct;
  try {
    const m = (JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown }).mediaType;
    if (typeof m === "string" && m) return m;
  } catch {
    // not JSON: the parser will say so with the reference in hand
  }
  return ct;
}
