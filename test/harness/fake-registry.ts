/**
 * A tiny registry for manifests a real one refuses to store (invalid JSON, schema1, a mediaType that disagrees
 * with Content-Type, more than 4 MiB, no config): node:http on 127.0.0.1:0 serving `/v2/`, the manifests it is
 * given, byte for byte with the Content-Type it is given, and blobs by digest. Everything else is 404 with a
 * distribution-style error body.
 */
import { createServer } from "node:http";
import { type Digest, sha256 } from "../../src/internal/index.js";
import { close, listen } from "./net.js";

export interface FakeManifest {
  body: Buffer;
  contentType: string;
  /** Docker-Content-Digest to send; defaults to the body's sha256. */
  digest?: string;
}

export interface FakeRegistry {
  host: string;
  /** Requests seen, `GET /v2/x/manifests/tag`. */
  requests: string[];
  /** Serves `body` for `repo` under `ref` (a tag or a digest) and, by default, under its digest too. */
  manifest(repo: string, ref: string, m: FakeManifest): void;
  blob(repo: string, data: Buffer): Digest;
  stop(): Promise<void>;
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const manifests = new Map<string, FakeManifest>();
  const blobs = new Map<string, Buffer>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    const url = new URL(req.url ?? "/", "http://x");
    const notFound = (code: string) => {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code, message: `${code.toLowerCase()}: ${url.pathname}` }] }));
    };
    if (url.pathname === "/v2/" || url.pathname === "/v2") {
      res.writeHead(200, {
        "content-type": "application/json",
        "docker-distribution-api-version": "registry/2.0",
      });
      res.end("{}");
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m || (req.method !== "GET" && req.method !== "HEAD")) return notFound("UNSUPPORTED");
    const [, repo, kind, ref] = m;
    if (kind === "manifests") {
      const found = manifests.get(`${repo}@${ref}`);
      if (!found) return notFound("MANIFEST_UNKNOWN");
      res.writeHead(200, {
        "content-type": found.contentType,
        "content-length": String(found.body.length),
        "docker-content-digest": found.digest ?? sha256(found.body),
      });
      res.end(req.method === "HEAD" ? undefined : found.body);
      return;
    }
    const blob = blobs.get(`${repo}@${ref}`);
    if (!blob) return notFound("BLOB_UNKNOWN");
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(blob.length),
      "docker-content-digest": ref ?? "",
    });
    res.end(req.method === "HEAD" ? undefined : blob);
  });
  const host = await listen(server);
  return {
    host,
    requests,
    manifest(repo, ref, m) {
      manifests.set(`${repo}@${ref}`, m);
      manifests.set(`${repo}@${sha256(m.body)}`, m);
    },
    blob(repo, data) {
      const d = sha256(data);
      blobs.set(`${repo}@${d}`, data);
      return d;
    },
    stop: () => close(server),
  };
}
