/**
 * Reads a whole image or index from any ImageSource into memory, as a `BuiltImage`: the top manifest, every
 * child manifest of an index (nested ones too) and every config and layer, each verified against its
 * descriptor. `nodewasi build --index --add` uses it to put images that are in the store, or in an OCI layout,
 * into a new index; the result can be written to a layout, stored or pushed like a freshly built image.
 */
import { type Digest, failedPrecondition, sha256, verifyContent } from "../../internal/index.js";
import type { Descriptor, FetchedManifest, ImageSource, Platform } from "../image/index.js";
import {
  configIsJson,
  configPlatform,
  MAX_CONFIG_BYTES,
  MAX_INDEX_DEPTH,
  parseImageConfig,
  parseManifest,
} from "../image/index.js";
import type { BuiltImage } from "./build.js";

/**
 * Loads what `source` resolves to with all its content. The descriptor of a single manifest carries the
 * platform its config declares (none for configs that declare none, such as wasm-to-oci's `{}`).
 */
export async function loadImage(source: ImageSource, signal?: AbortSignal): Promise<BuiltImage> {
  const top = await source.resolve(signal);
  const blobs = new Map<Digest, Buffer>();
  const desc: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
  const platform = await collect(source, top, blobs, 0, signal);
  return { manifest: platform ? { ...desc, platform } : desc, blobs };
}

/** Adds `fetched` and everything below it to `blobs`; returns the platform of a manifest's config. */
async function collect(
  source: ImageSource,
  fetched: FetchedManifest,
  blobs: Map<Digest, Buffer>,
  depth: number,
  signal: AbortSignal | undefined,
): Promise<Platform | undefined> {
  blobs.set(fetched.digest, fetched.bytes);
  const parsed = parseManifest(fetched.bytes, fetched.mediaType, `${source.name}@${fetched.digest}`);
  if (parsed.kind === "index") {
    if (depth >= MAX_INDEX_DEPTH) {
      throw failedPrecondition(`${source.name}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    }
    for (const child of parsed.index.manifests) {
      if (blobs.has(child.digest)) continue;
      await collect(source, await source.fetchManifest(child, signal), blobs, depth + 1, signal);
    }
    return undefined;
  }
  const { config, layers } = parsed.manifest;
  for (const d of [config, ...layers]) {
    if (!blobs.has(d.digest)) blobs.set(d.digest, await readAll(source, d, signal));
  }
  if (!configIsJson(config.mediaType)) return undefined;
  const bytes = blobs.get(config.digest)!;
  if (bytes.length > MAX_CONFIG_BYTES) return undefined;
  return configPlatform(parseImageConfig(bytes, `config of ${source.name}@${fetched.digest}`));
}

async function readAll(
  source: ImageSource,
  desc: Descriptor,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  const { stream } = await source.openBlob(desc, 0, signal);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  const data = Buffer.concat(chunks);
  verifyContent(desc, data.length, sha256(data));
  return data;
}
