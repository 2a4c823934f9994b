/**
 * Image sources for `oci:DIR[:TAG]` and `oci-archive:FILE[:TAG]`, as skopeo names them: an OCI image layout
 * directory, or a tar of one. The tag is looked up as `org.opencontainers.image.ref.name` in index.json
 * (OciLayout.findByRef). Everything read is verified against its descriptor, like a registry's content: a
 * layout on disk is as untrusted as a registry, and an archive is unpacked with the hostile-input-safe
 * unpacker into a private temporary directory that `close()` removes.
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { failedPrecondition, notFound } from "../../internal/index.js";
import type { Descriptor, FetchedManifest, ImageSource, OpenedBlob } from "../image/index.js";
import { MAX_MANIFEST_BYTES } from "../image/index.js";
import { OciLayout } from "../store/index.js";
import { unpackLayer } from "../unpack/index.js";

/** An ImageSource over the layout at `path`; the tag may be omitted when the layout holds one image. */
export async function layoutSource(path: string, tag?: string): Promise<ImageSource> {
  const dir = resolve(path);
  const layout = await OciLayout.open(dir);
  return new LayoutSource(layout, `oci:${dir}`, tag, async () => {});
}

/**
 * An ImageSource over a layout already open, such as the content store itself: `nodewasi check --repair`
 * extracts an image again from the blobs the store still holds, without the network.
 */
export function openedLayoutSource(layout: OciLayout, tag: string): ImageSource {
  return new LayoutSource(layout, `oci:${layout.dir}`, tag, async () => {});
}

/**
 * An ImageSource over the OCI layout archived in `file` (plain or gzip-compressed tar, as `skopeo copy ...
 * oci-archive:FILE` and runwasi's oci-tar-builder write). The archive is unpacked once, up front, read as one
 * stream from start to end, so a pipe serves as well as a file (`oci-archive:/dev/stdin`, `<(curl ...)`).
 */
export async function archiveSource(file: string, tag?: string): Promise<ImageSource> {
  const path = resolve(file);
  const { stream, compression } = await openArchive(path);
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-archive-")).catch((err: unknown) => {
    stream.destroy();
    throw err;
  });
  try {
    await unpackLayer(stream, compression, dir, { name: `archive ${path}` });
    const layout = await OciLayout.open(dir).catch((err: unknown) => {
      throw failedPrecondition(
        `${path} is not an OCI layout archive (no oci-layout and index.json at its top); ` +
          "make one with skopeo copy SRC oci-archive:FILE:TAG",
        { cause: err },
      );
    });
    return new LayoutSource(layout, `oci-archive:${path}`, tag, () =>
      rm(dir, { recursive: true, force: true }),
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The archive as a stream, and its compression: gzip by its magic bytes (1f 8b), anything else a plain tar.
 * The magic is read from the stream itself and put back, never with a positional read, which a pipe refuses
 * (ESPIPE).
 */
async function openArchive(path: string): Promise<{ stream: Readable; compression: "none" | "gzip" }> {
  const fh = await open(path, "r").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT")
      throw notFound(`${path} does not exist; give the path of an OCI layout archive`);
    throw err;
  });
  const stream = fh.createReadStream();
  const head = await new Promise<Buffer | null>((resolve, reject) => {
    const settle = () => {
      stream.off("readable", settle).off("end", settle).off("error", reject);
      resolve(stream.read() as Buffer | null);
    };
    stream.once("readable", settle).once("end", settle).once("error", reject);
  }).catch((err: unknown) => {
    stream.destroy();
    throw err;
  });
  if (head) stream.unshift(head);
  const gzip = !!head && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  return { stream, compression: gzip ? "gzip" : "none" };
}

class LayoutSource implements ImageSource {
  readonly name: string;
  readonly #layout: OciLayout;
  readonly #tag: string | undefined;
  readonly #cleanup: () => Promise<void>;
  #closed = false;

  constructor(layout: OciLayout, base: string, tag: string | undefined, cleanup: () => Promise<void>) {
    this.#layout = layout;
    this.#tag = tag;
    this.#cleanup = cleanup;
    this.name = tag ? `${base}:${tag}` : base;
  }

  async resolve(): Promise<FetchedManifest> {
    return this.fetchManifest(await this.#layout.findByRef(this.#tag));
  }

  async fetchManifest(desc: Descriptor): Promise<FetchedManifest> {
    if (desc.size > MAX_MANIFEST_BYTES) {
      throw failedPrecondition(
        `${this.name}: manifest ${desc.digest} is ${desc.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
      );
    }
    const bytes = await this.#layout.readBlob(desc, MAX_MANIFEST_BYTES);
    return { bytes, mediaType: desc.mediaType, digest: desc.digest };
  }

  async openBlob(desc: Descriptor, offset: number): Promise<OpenedBlob> {
    return { stream: await this.#layout.openBlob(desc, offset), offset: Math.min(offset, desc.size) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#cleanup();
  }
}
