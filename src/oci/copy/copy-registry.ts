/**
 * A registry as a copy destination: the distribution-spec push flow. For each blob: HEAD (already there:
 * nothing sent), then a cross-repository mount when a repository of the same registry may hold it
 * (`POST ?mount=&from=`, 201), else an upload: POST then one PUT, or PATCH chunks and a closing PUT above the
 * chunk threshold. A broken upload starts again in a fresh session, because the registry may keep the bytes
 * of the broken request in the old one and then refuse it (distribution answers BLOB_UPLOAD_INVALID). The
 * registry checks each blob's digest before it keeps it, so a corrupt source blob is refused (DIGEST_INVALID).
 */
import { Readable } from "node:stream";
import { dataLoss, ShimError, sleep } from "../../internal/index.js";
import type { Descriptor, ImageSource } from "../image/index.js";
import { formatReference, type Reference } from "../image/index.js";
import { isRetryable, isStall, STALL_ATTEMPTS } from "../pull/index.js";
import type { RegistryClient } from "../registry/index.js";
import type { BlobOutcome, CopyOptions, ImageDestination, PutBlobOptions } from "./copy-types.js";

/** Blobs above this size go in chunks; Cloudflare and many proxies refuse request bodies over 100 MB. */
export const DEFAULT_CHUNK_THRESHOLD = 96 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 32 * 1024 * 1024;

/** Where `ref` points: the repository gets the blobs, the tag (or, without one, the digest) the top manifest. */
export function registryDestination(
  client: RegistryClient,
  ref: Reference,
  opts: Pick<CopyOptions, "chunkThreshold" | "chunkSize" | "attempts" | "mountFrom"> & {
    /** Whether `close()` closes the client (default true). */
    closeClient?: boolean;
  } = {},
): ImageDestination {
  const { registry, repository } = ref;
  const tagged = ref.digest ? undefined : ref.tag;
  const threshold = opts.chunkThreshold ?? DEFAULT_CHUNK_THRESHOLD;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const attempts = opts.attempts ?? 5;
  const from =
    opts.mountFrom?.registry === registry && opts.mountFrom.repository !== repository
      ? opts.mountFrom.repository
      : undefined;

  const upload = async (desc: Descriptor, source: ImageSource, o: PutBlobOptions): Promise<void> => {
    const emit = o.onEvent;
    let stalls = 0;
    for (let attempt = 1; ; attempt++) {
      emit({
        type: "blob-start",
        digest: desc.digest,
        size: desc.size,
        offset: 0,
        mediaType: desc.mediaType,
      });
      try {
        await client.uploadBlob(registry, repository, desc, () => sendStream(desc, source, o), {
          checkExists: false,
          ...(desc.size > threshold ? { chunkSize } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
        });
        return;
      } catch (err) {
        if (isStall(err)) stalls++;
        const wedged = stalls >= STALL_ATTEMPTS;
        if (wedged || attempt >= attempts || !isRetryable(err) || o.signal?.aborted)
          throw ShimError.from(err);
        const delayMs = Math.min(5000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        const reason = err instanceof Error ? err.message : String(err);
        emit({ type: "blob-retry", digest: desc.digest, offset: 0, attempt, delayMs, reason });
        await sleep(delayMs, o.signal);
      }
    }
  };

  const name = formatReference(ref);
  return {
    name,
    async putBlob(desc, source, o): Promise<BlobOutcome> {
      const signal = o.signal;
      let outcome: BlobOutcome = "uploaded";
      try {
        if (await client.blobExists(registry, repository, desc, signal)) outcome = "exists";
        else if (from && (await client.mountBlob(registry, repository, from, desc, signal)))
          outcome = "mounted";
        else await upload(desc, source, o);
      } catch (err) {
        throw withPushHint(err, name);
      }
      return outcome;
    },
    async putManifest(desc, bytes, top, signal) {
      const ref = top ? (tagged ?? desc.digest) : desc.digest;
      await client
        .putManifest(registry, repository, ref, bytes, desc.mediaType, signal)
        .catch((err: unknown) => {
          throw withPushHint(err, name);
        });
    },
    async close() {
      if (opts.closeClient ?? true) await client.close();
    },
  };
}

/**
 * The blob's bytes from `source`, counted for progress. They are not hashed here: the registry verifies the
 * digest before it commits the upload (distribution-spec: DIGEST_INVALID otherwise), and hashing 64 MiB
 * twice on the same machine costs a quarter of the push (npm run bench -- push). More bytes than the
 * descriptor says end the request at once.
 */
function sendStream(desc: Descriptor, source: ImageSource, o: PutBlobOptions): Readable {
  async function* bytes() {
    const opened = await source.openBlob(desc, 0, o.signal);
    let done = 0;
    try {
      for await (const chunk of opened.stream) {
        done += (chunk as Buffer).length;
        if (done > desc.size) {
          throw dataLoss(`blob ${desc.digest} is larger than its descriptor says (${desc.size} bytes)`);
        }
        o.onEvent({ type: "blob-progress", digest: desc.digest, size: desc.size, done });
        yield chunk as Buffer;
      }
    } catch (err) {
      opened.stream.destroy();
      const e = ShimError.from(err);
      throw new ShimError(e.code, `reading blob ${desc.digest} from ${source.name}: ${e.rawMessage}`, {
        cause: err,
        temporary: e.temporary,
      });
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}

/**
 * What to do about a registry's refusal of a push, by HTTP status and distribution-spec error code (the
 * registry's own words stay in the message). Added as `details.hint`, which the CLI prints after the error.
 */
export function pushHint(status: number, codes: readonly string[], name: string): string | undefined {
  const has = (c: string) => codes.includes(c);
  if (status === 401 || status === 403 || has("DENIED") || has("UNAUTHORIZED")) {
    return `pushing needs push access to ${name}: log in with \`docker login ${name.split("/")[0]}\` (nodewasi reads ~/.docker/config.json) or check the repository name`;
  }
  if (has("NAME_UNKNOWN") || (status === 404 && has("NAME_INVALID"))) {
    return "the repository does not exist and this registry does not create repositories on push: create it first, or check the name";
  }
  if (status === 405 || has("UNSUPPORTED")) {
    return "this registry does not accept pushes (it is read-only, or a mirror or pull-through cache)";
  }
  if (status === 413 || has("SIZE_INVALID")) {
    return "the registry or a proxy in front of it refuses a request this large: push with --chunk-size 16777216 to send blobs in smaller PATCH requests";
  }
  if (has("MANIFEST_BLOB_UNKNOWN"))
    return "a blob the manifest names is missing from the repository; push again";
  if (has("MANIFEST_INVALID")) {
    return "the registry refused the manifest: it may not accept this media type or artifact (check its documentation for OCI artifact support)";
  }
  if (has("DIGEST_INVALID") || has("BLOB_UPLOAD_INVALID") || has("BLOB_UPLOAD_UNKNOWN")) {
    return "the bytes sent do not match their digest: the source's copy is corrupt (`nodewasi check` finds damage in the store, and a pull replaces it), a proxy changed them, or the upload session expired; push again";
  }
  if (status === 429 || has("TOOMANYREQUESTS"))
    return "the registry is rate limiting pushes; wait and push again";
  return undefined;
}

function withPushHint(err: unknown, name: string): unknown {
  if (!(err instanceof ShimError) || typeof err.details.status !== "number") return err;
  const codes = Array.isArray(err.details.errors)
    ? (err.details.errors as { code?: unknown }[]).map((e) => String(e.code))
    : [];
  const hint = pushHint(err.details.status, codes, name);
  return hint
    ? new ShimError(err.code, err.rawMessage, {
        cause: err.cause,
        details: { ...err.details, hint },
        temporary: err.temporary,
      })
    : err;
}
