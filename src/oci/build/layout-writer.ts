/**
 * Writes built images into an OCI image layout (image-spec image-layout.md): `oci-layout`, `index.json` and
 * `blobs/sha256/<hex>`. Used for fixtures, for the committed example image, and by `skopeo copy oci:DIR:TAG`
 * in tests, so the result must be what skopeo and containerd read.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Digest, digestHex, failedPrecondition, pathExists } from "../../internal/index.js";
import { Annotation, type Descriptor, type ImageIndex, MediaType } from "../image/index.js";
import type { BuiltImage } from "./build.js";

/** An image (or index) to record in a layout under a tag. */
export interface LayoutImage {
  image: BuiltImage;
  /** Recorded as `org.opencontainers.image.ref.name`, the name skopeo's `oci:DIR:TAG` looks up. */
  tag: string;
}

/**
 * Writes `images` into the layout at `dir`, creating it when missing and merging with an existing one: blobs
 * already present are kept, an entry with the same tag is replaced, other entries stay. `index.json` is
 * replaced atomically (write then rename) so a reader never sees half of it.
 */
export async function writeLayout(dir: string, images: readonly LayoutImage[]): Promise<void> {
  const blobDir = join(dir, "blobs", "sha256");
  await mkdir(blobDir, { recursive: true });
  await writeFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const index = await readIndex(dir);
  for (const { image, tag } of images) {
    for (const [digest, data] of image.blobs) await writeBlob(blobDir, digest, data);
    index.manifests = index.manifests.filter((m) => m.annotations?.[Annotation.RefName] !== tag);
    const desc: Descriptor = { ...image.manifest };
    desc.annotations = { ...image.manifest.annotations, [Annotation.RefName]: tag };
    index.manifests.push(desc);
  }
  const tmp = join(dir, `.index.json.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(index, null, 2)}\n`);
  await rename(tmp, join(dir, "index.json"));
}

async function readIndex(dir: string): Promise<ImageIndex> {
  const path = join(dir, "index.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    }
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw failedPrecondition(`${path} is not valid JSON; remove it or the layout at ${dir}`, { cause: err });
  }
  const manifests = (parsed as { manifests?: unknown }).manifests;
  if (!Array.isArray(manifests)) {
    throw failedPrecondition(`${path} has no manifests array; it is not an OCI image layout index`);
  }
  return parsed as ImageIndex;
}

async function writeBlob(blobDir: string, digest: Digest, data: Buffer): Promise<void> {
  const path = join(blobDir, digestHex(digest));
  // Content addressed: a blob already there holds these bytes. A new one appears whole, by rename.
  if (await pathExists(path)) return;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
