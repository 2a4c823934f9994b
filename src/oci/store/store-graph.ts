/**
 * What a name in the store reaches: from an index.json entry through indexes and manifests to configs and
 * layers, the way containerd's GC walks content from its roots. Prune keeps what this reaches, and
 * `nodewasi check` looks for what it lacks. A manifest that is present but damaged stops the walk with
 * `DataLoss`: what it names is unknown, and guessing would let prune delete an image's layers.
 */
import { Code, ShimError } from "../../internal/index.js";
import type { Descriptor } from "../image/index.js";
import { isIndexType, isManifestType, MAX_MANIFEST_BYTES, parseManifest } from "../image/index.js";
import type { OciLayout } from "./layout.js";

/** What one image reaches. */
export interface ImageGraph {
  /** Indexes and manifests reached (their pull records and rootfs folders belong to the image). */
  manifests: Descriptor[];
  /** Configs and layers reached. */
  blobs: Descriptor[];
  /** Descriptors reached whose blob is not in the store. */
  missing: Descriptor[];
}

/** Walks from `entry` (depth at most 8, as nested indexes go); `seen` skips digests walked already. */
export async function imageGraph(
  store: OciLayout,
  entry: Descriptor,
  seen: Set<string> = new Set(),
): Promise<ImageGraph> {
  const graph: ImageGraph = { manifests: [], blobs: [], missing: [] };
  const visit = async (desc: Descriptor, depth: number): Promise<void> => {
    if (seen.has(desc.digest) || depth > 8) return;
    seen.add(desc.digest);
    const isRoot = depth === 0;
    if (!isRoot && !isIndexType(desc.mediaType) && !isManifestType(desc.mediaType)) {
      graph.blobs.push(desc);
      if (!(await store.has(desc))) graph.missing.push(desc);
      return;
    }
    graph.manifests.push(desc);
    if (desc.size > MAX_MANIFEST_BYTES) return;
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(await store.readBlob(desc), desc.mediaType, desc.digest);
    } catch (err) {
      const e = ShimError.from(err);
      if (e.code === Code.NotFound) {
        graph.missing.push(desc);
        return;
      }
      if (e.code === Code.DataLoss) {
        throw new ShimError(Code.DataLoss, `${e.rawMessage} (blob ${store.blobPath(desc.digest)})`, {
          cause: err,
          details: {
            path: store.blobPath(desc.digest),
            hint: "run `nodewasi check --repair`, then pull the image again",
          },
        });
      }
      return; // Not a manifest (an artifact's blob named by a tag): nothing below it.
    }
    if (parsed.kind === "index") {
      for (const child of parsed.index.manifests) await visit(child, depth + 1);
    } else {
      for (const d of [parsed.manifest.config, ...parsed.manifest.layers]) await visit(d, depth + 1);
    }
  };
  await visit(entry, 0);
  return graph;
}
