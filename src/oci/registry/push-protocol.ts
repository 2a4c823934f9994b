/**
 * The push half of the distribution API (distribution-spec "Push"): check, mount, upload blobs, put manifests.
 * Uploads follow the spec's two forms: POST then a monolithic PUT, or POST, PATCH chunks with
 * `Content-Range: <start>-<end>` (inclusive), and a closing PUT with the digest. Each answer's `Location` is
 * the next URL (it may be relative, and may carry opaque session state in its query, which is kept and never
 * shown in messages).
 */
import type { Readable } from "node:stream";
import { Code, type Digest, invalidArgument, type Logger, ShimError, sha256 } from "../../internal/index.js";
import type { Descriptor } from "../image/index.js";
import { repositoryScope } from "./challenge.js";
import { header } from "./read-body.js";
import type { RegistryHttp } from "./registry-http.js";
import type { HttpResponse } from "./transport.js";

/** Blob content for upload: bytes, or a factory giving a fresh stream for each try. */
export type BlobData = Buffer | (() => Readable);

/** How to upload: one PUT (default) or PATCH chunks, and a signal to stop. */
export interface UploadOptions {
  /** Upload in PATCH chunks of this many bytes instead of one PUT. */
  chunkSize?: number;
  /** HEAD the blob first and upload nothing when it is there (default true). */
  checkExists?: boolean;
  signal?: AbortSignal;
}

const OCTETS = "application/octet-stream";
const blobWhat = (registry: string, repo: string, digest: string) => `blob ${digest} in ${registry}/${repo}`;
const signalOf = (signal: AbortSignal | undefined) => (signal ? { signal } : {});

/** Whether the repository holds the blob (HEAD; 200 yes, 404 no, anything else is an error). */
export async function blobExists(
  http: RegistryHttp,
  registry: string,
  repo: string,
  desc: Pick<Descriptor, "digest">,
  opts: { signal?: AbortSignal; scopes?: readonly string[] } = {},
): Promise<boolean> {
  const res = await http.request({
    registry,
    method: "HEAD",
    path: `/v2/${repo}/blobs/${desc.digest}`,
    scopes: opts.scopes ?? [repositoryScope(repo)],
    expect: [200, 404],
    what: blobWhat(registry, repo, desc.digest),
    ...signalOf(opts.signal),
  });
  await res.body.dump().catch(() => {});
  return res.status === 200;
}

/**
 * Asks the registry to link a blob from `fromRepo` (POST `?mount=&from=`). True when mounted (201); false when
 * the registry declined (202: it opened an upload session instead, which we cancel) — then upload it.
 */
export async function mountBlob(
  http: RegistryHttp,
  registry: string,
  repo: string,
  fromRepo: string,
  desc: Pick<Descriptor, "digest">,
  opts: { signal?: AbortSignal } = {},
): Promise<boolean> {
  const q = new URLSearchParams({ mount: desc.digest, from: fromRepo });
  const res = await http.request({
    registry,
    method: "POST",
    path: `/v2/${repo}/blobs/uploads/?${q}`,
    scopes: [repositoryScope(repo, "pull,push"), repositoryScope(fromRepo)],
    expect: [201, 202],
    what: `mount of ${blobWhat(registry, fromRepo, desc.digest)} into ${repo}`,
    ...signalOf(opts.signal),
  });
  await res.body.dump().catch(() => {});
  if (res.status === 201) return true;
  const location = nextLocation(res, "mount");
  await http
    .request({
      registry,
      method: "DELETE",
      url: location,
      scopes: [repositoryScope(repo, "pull,push")],
      expect: [200, 202, 204, 404],
      what: "cancel of an unused upload session",
      ...signalOf(opts.signal),
    })
    .then((r) => r.body.dump())
    .catch(() => {}); // an abandoned session expires on its own; nothing the caller can do
  return false;
}

/**
 * Uploads a blob unless the repository already has it. Bytes are checked against the descriptor first (a
 * wrong descriptor is the caller's bug); a stream is checked by the registry, which answers DIGEST_INVALID.
 */
export async function uploadBlob(
  http: RegistryHttp,
  registry: string,
  repo: string,
  desc: Pick<Descriptor, "digest" | "size">,
  data: BlobData,
  opts: UploadOptions = {},
): Promise<void> {
  if (Buffer.isBuffer(data) && (data.length !== desc.size || sha256(data) !== desc.digest)) {
    throw invalidArgument(
      `upload of blob ${desc.digest} to ${registry}/${repo}: the bytes given (${data.length} bytes, ${sha256(data)}) do not match the descriptor (${desc.size} bytes)`,
    );
  }
  if (opts.chunkSize !== undefined && !(Number.isInteger(opts.chunkSize) && opts.chunkSize > 0)) {
    throw invalidArgument(
      `upload of blob ${desc.digest}: chunk size must be a positive integer, got ${opts.chunkSize}`,
    );
  }
  const scopes = [repositoryScope(repo, "pull,push")];
  if (
    (opts.checkExists ?? true) &&
    (await blobExists(http, registry, repo, desc, { scopes, ...signalOf(opts.signal) }))
  ) {
    return;
  }
  if (opts.chunkSize !== undefined) return uploadSession(http, registry, repo, desc, data, opts);
  // A monolithic upload whose session was lost is done again in a new session: the PUT retried after a
  // connection reset finds its session invalidated by the cut body (BLOB_UPLOAD_INVALID), or consumed when only
  // the answer was lost (BLOB_UPLOAD_UNKNOWN); in that second case the blob is there already.
  for (let session = 1; ; session++) {
    try {
      return await uploadSession(http, registry, repo, desc, data, opts);
    } catch (err) {
      if (session >= UPLOAD_SESSIONS || !sessionLost(err)) throw err;
      if (await blobExists(http, registry, repo, desc, { scopes, ...signalOf(opts.signal) })) return;
    }
  }
}

/** Upload sessions tried for one monolithic blob upload. */
const UPLOAD_SESSIONS = 3;

/** Whether `err` says the upload session is gone (distribution's codes), not that the upload is refused. */
function sessionLost(err: unknown): boolean {
  const errors =
    err instanceof ShimError ? (err.details as { errors?: { code?: string }[] }).errors : undefined;
  return (errors ?? []).some((e) => e.code === "BLOB_UPLOAD_UNKNOWN" || e.code === "BLOB_UPLOAD_INVALID");
}

/** One upload session: POST, then one PUT or PATCH chunks and a closing PUT. */
async function uploadSession(
  http: RegistryHttp,
  registry: string,
  repo: string,
  desc: Pick<Descriptor, "digest" | "size">,
  data: BlobData,
  opts: UploadOptions,
): Promise<void> {
  const scopes = [repositoryScope(repo, "pull,push")];
  const what = `upload of ${blobWhat(registry, repo, desc.digest)}`;
  const common = { registry, scopes, what, ...signalOf(opts.signal) };
  const start = await http.request({
    ...common,
    method: "POST",
    path: `/v2/${repo}/blobs/uploads/`,
    expect: [202],
  });
  await start.body.dump().catch(() => {});
  let location = nextLocation(start, what);

  if (opts.chunkSize !== undefined) {
    let offset = 0;
    const source = Buffer.isBuffer(data)
      ? bufferChunks(data, opts.chunkSize)
      : streamChunks(data(), opts.chunkSize);
    for await (const chunk of source) {
      const res = await http.request({
        ...common,
        method: "PATCH",
        url: location,
        headers: {
          "content-type": OCTETS,
          "content-range": `${offset}-${offset + chunk.length - 1}`,
          "content-length": String(chunk.length),
        },
        body: chunk,
        expect: [202],
      });
      await res.body.dump().catch(() => {});
      offset += chunk.length;
      location = nextLocation(res, what);
    }
    location.searchParams.set("digest", desc.digest);
    const done = await http.request({
      ...common,
      method: "PUT",
      url: location,
      headers: { "content-length": "0" },
      expect: [201],
    });
    await done.body.dump().catch(() => {});
    return;
  }
  location.searchParams.set("digest", desc.digest);
  // Not retried on this session: bytes of a broken PUT may have reached it, and it then refuses a second PUT
  // (BLOB_UPLOAD_INVALID). uploadBlob opens a fresh session instead.
  const done = await http.request({
    ...common,
    method: "PUT",
    url: location,
    headers: { "content-type": OCTETS, "content-length": String(desc.size) },
    body: data,
    expect: [201],
    idempotent: Buffer.isBuffer(data),
  });
  await done.body.dump().catch(() => {});
}

/**
 * Puts a manifest under a tag or digest and returns its digest (sha256 of `bytes`, the registry's
 * `Docker-Content-Digest` being advisory). A digest reference must match the bytes.
 */
export async function putManifest(
  http: RegistryHttp,
  registry: string,
  repo: string,
  tagOrDigest: string,
  bytes: Buffer,
  mediaType: string,
  opts: { signal?: AbortSignal; logger?: Logger } = {},
): Promise<Digest> {
  const digest = sha256(bytes);
  if (tagOrDigest.includes(":") && tagOrDigest !== digest) {
    throw invalidArgument(`push of manifest ${registry}/${repo}@${tagOrDigest}: the bytes hash to ${digest}`);
  }
  const res = await http.request({
    registry,
    method: "PUT",
    path: `/v2/${repo}/manifests/${tagOrDigest}`,
    headers: { "content-type": mediaType, "content-length": String(bytes.length) },
    body: bytes,
    scopes: [repositoryScope(repo, "pull,push")],
    expect: [201],
    what: `push of manifest ${registry}/${repo}${tagOrDigest.includes(":") ? "@" : ":"}${tagOrDigest}`,
    ...signalOf(opts.signal),
  });
  await res.body.dump().catch(() => {});
  const said = header(res.headers, "docker-content-digest");
  if (said && said !== digest) {
    opts.logger?.warn("registry reports a different manifest digest than the bytes sent", { said, digest });
  }
  return digest;
}

/** The next upload URL from a `Location` header, resolved against the URL that answered. */
function nextLocation(res: HttpResponse, what: string): URL {
  const loc = header(res.headers, "location");
  if (!loc) {
    throw new ShimError(
      Code.Unknown,
      `${what}: the registry answered ${res.status} without a Location header; it does not follow the distribution spec`,
    );
  }
  return new URL(loc, res.url);
}

function* bufferChunks(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Regroups a stream into chunks of exactly `size` bytes (the last may be shorter). */
async function* streamChunks(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let have = 0;
  for await (const piece of stream) {
    let b = piece as Buffer;
    while (have + b.length >= size) {
      const take = size - have;
      pending.push(b.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      have = 0;
      b = b.subarray(take);
    }
    if (b.length) {
      pending.push(b);
      have += b.length;
    }
  }
  if (have) yield Buffer.concat(pending);
}
