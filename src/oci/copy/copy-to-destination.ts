/**
 * `copyToDestination`: copy an image (a manifest, or an index with every manifest it names) with all the
 * blobs it references from any `ImageSource` to any `ImageDestination`, as `skopeo copy --all` and
 * `crane copy` do.
 * Blobs go first (in parallel), then manifests bottom-up: an index's children by digest before the index
 * under its tag, so a registry's reference checks (MANIFEST_BLOB_UNKNOWN) always pass. Nothing is
 * converted: every manifest keeps its bytes, so every digest stays the same.
 */
import { type Digest, failedPrecondition, silentLogger } from "../../internal/index.js";
import type { Descriptor, FetchedManifest, ImageSource } from "../image/index.js";
import { isIndexType, isManifestType, MAX_INDEX_DEPTH, parseManifest } from "../image/index.js";
import type { BlobOutcome, CopyEvent, CopyOptions, CopyResult, ImageDestination } from "./copy-types.js";

/** A manifest to write, with its exact bytes. */
interface PendingManifest {
  desc: Descriptor;
  bytes: Buffer;
}

/**
 * Copies what `source` resolves to into `dest`, which names the top manifest as it was told (a tag, or by
 * digest). `dest` is closed on the way out, committed only when everything was written.
 */
export async function copyToDestination(
  source: ImageSource,
  dest: ImageDestination,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const emit = opts.onEvent ?? ((_: CopyEvent) => {});
  const logger = opts.logger ?? silentLogger;
  let ok = false;
  try {
    const top = await source.resolve(opts.signal);
    emit({ type: "resolved", name: source.name, digest: top.digest, mediaType: top.mediaType });
    const manifests: PendingManifest[] = [];
    const blobs = new Map<Digest, Descriptor>();
    const topDesc = await walk(source, top, undefined, manifests, blobs, 0, opts.signal);

    const counts: Record<BlobOutcome, number> = { uploaded: 0, exists: 0, mounted: 0 };
    let bytesUploaded = 0;
    const onEvent = (e: CopyEvent) => {
      if (e.type === "blob-done" && e.outcome === "uploaded") bytesUploaded += e.size;
      emit(e);
    };
    await forEachLimit([...blobs.values()], opts.concurrency ?? 4, opts.signal, async (desc, signal) => {
      const outcome = await dest.putBlob(desc, source, { onEvent, signal });
      const cached = outcome !== "uploaded";
      onEvent({ type: "blob-done", digest: desc.digest, size: desc.size, cached, outcome });
      counts[outcome]++;
    });
    for (const m of manifests) {
      const top = m === manifests.at(-1);
      await dest.putManifest(m.desc, m.bytes, top, opts.signal);
      emit({ type: "manifest", digest: m.desc.digest, mediaType: m.desc.mediaType, size: m.desc.size, top });
    }
    logger.debug("copied image", { from: source.name, to: dest.name, ...counts });
    ok = true;
    return {
      source: source.name,
      destination: dest.name,
      digest: topDesc.digest,
      mediaType: topDesc.mediaType,
      size: topDesc.size,
      manifests: manifests.length,
      blobs: counts,
      bytesUploaded,
    };
  } finally {
    await dest.close(ok);
  }
}

/**
 * Reads a manifest or index and everything below it: appends manifests in post-order (children before the
 * index naming them) and collects the blobs. Returns the descriptor to write `fetched` under.
 */
async function walk(
  source: ImageSource,
  fetched: FetchedManifest,
  named: Descriptor | undefined,
  manifests: PendingManifest[],
  blobs: Map<Digest, Descriptor>,
  depth: number,
  signal: AbortSignal | undefined,
): Promise<Descriptor> {
  const where = `${source.name}@${fetched.digest}`;
  const parsed = parseManifest(fetched.bytes, named?.mediaType ?? fetched.mediaType, where);
  const desc: Descriptor = named ?? {
    mediaType: parsed.mediaType,
    digest: fetched.digest,
    size: fetched.bytes.length,
  };
  if (manifests.some((m) => m.desc.digest === desc.digest)) return desc;
  if (parsed.kind === "index") {
    if (depth >= MAX_INDEX_DEPTH) {
      throw failedPrecondition(`${where}: indexes nested deeper than ${MAX_INDEX_DEPTH}; refusing to copy`);
    }
    for (const child of parsed.index.manifests) {
      if (isIndexType(child.mediaType) || isManifestType(child.mediaType)) {
        const m = await source.fetchManifest(child, signal);
        await walk(source, m, child, manifests, blobs, depth + 1, signal);
      } else {
        blobs.set(child.digest, child);
      }
    }
  } else {
    for (const blob of [parsed.manifest.config, ...parsed.manifest.layers]) blobs.set(blob.digest, blob);
  }
  manifests.push({ desc, bytes: fetched.bytes });
  return desc;
}

/**
 * Runs `fn` over `items`, at most `limit` at a time. The first failure aborts the signal handed to the
 * others and is what this rejects with, once every started call has settled.
 */
async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  outer: AbortSignal | undefined,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const signal = outer ? AbortSignal.any([outer, stop.signal]) : stop.signal;
  const queue = [...items];
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined && !failure; item = queue.shift()) {
      try {
        await fn(item, signal);
      } catch (err) {
        failure ??= { err };
        stop.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, queue.length)) }, worker));
  if (failure) throw failure.err;
}
