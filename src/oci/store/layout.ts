/**
 * Reading an OCI image layout directory (image-spec image-layout.md): `oci-layout` with
 * `{"imageLayoutVersion":"1.0.0"}`, `index.json`, and `blobs/sha256/<hex>`. This is what skopeo's `oci:DIR`,
 * ggcr's `layout` and oras-go's `content/oci` read and write, and what the content store (store.ts) is on disk,
 * so both share these readers. Every blob read is checked against its descriptor: a layout is input, and a
 * file under `blobs/` is only as good as its hash.
 */

import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  type Digest,
  dataLoss,
  digestHex,
  failedPrecondition,
  invalidArgument,
  notFound,
  parseDigest,
  sha256,
  verifyContent,
} from "../../internal/index.js";
import { Annotation, type Descriptor, type ImageIndex, parseManifest } from "../image/index.js";
import { readFileStream } from "./read-file-stream.js";

/** The layout version this reader understands (image-layout.md). */
export const IMAGE_LAYOUT_VERSION = "1.0.0";
/** `readBlob` reads whole blobs into memory; beyond this, stream with `openBlob`. */
export const DEFAULT_READ_LIMIT = 16 * 1024 * 1024;

/**
 * A read-only view of an OCI image layout. The content store extends it, so a store and a layout written by
 * skopeo are read by the same code.
 */
export class OciLayout {
  /** The layout directory. */
  readonly dir: string;

  protected constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Opens the layout at `dir`. Fails `NotFound` when there is no such directory and `InvalidArgument` when it
   * is not an OCI layout (no `oci-layout`, another version, no `index.json`), saying what to check.
   */
  static async open(dir: string): Promise<OciLayout> {
    await checkLayout(dir);
    return new OciLayout(dir);
  }

  /** `index.json`, parsed and validated like any index (every descriptor checked). */
  async index(): Promise<ImageIndex> {
    const path = join(this.dir, "index.json");
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw notFound(`${path} is missing: ${this.dir} is not a complete OCI image layout`, { cause: err });
      }
      throw err;
    }
    const parsed = parseManifest(bytes, undefined, path);
    if (parsed.kind !== "index") throw invalidArgument(`${path} is an image manifest, not an index`);
    return parsed.index;
  }

  /** Where the blob `digest` lives (whether or not it is there). The digest is validated first. */
  blobPath(digest: Digest): string {
    return join(this.dir, "blobs", "sha256", digestHex(parseDigest(digest, "blob digest")));
  }

  /** Whether the blob is present with the size its descriptor says (its hash is checked when read). */
  async has(desc: Descriptor): Promise<boolean> {
    try {
      const st = await stat(this.blobPath(desc.digest));
      return st.isFile() && st.size === desc.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  /**
   * Reads a whole blob, verified against `desc` (size and sha256): `DataLoss` when it differs, `NotFound` when
   * it is missing, `FailedPrecondition` when the descriptor says it is larger than `maxBytes`.
   */
  async readBlob(desc: Descriptor, maxBytes = DEFAULT_READ_LIMIT): Promise<Buffer> {
    if (desc.size > maxBytes) {
      throw failedPrecondition(
        `blob ${desc.digest} is ${desc.size} bytes, over the ${maxBytes}-byte read limit`,
      );
    }
    const path = this.blobPath(desc.digest);
    let bytes: Buffer;
    try {
      const st = await stat(path);
      if (st.size !== desc.size) {
        throw dataLoss(
          `blob ${path} is ${st.size} bytes, its descriptor says ${desc.size}; remove it and pull again`,
        );
      }
      bytes = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw missing(this.dir, desc, err);
      throw err;
    }
    verifyContent(desc, bytes.length, sha256(bytes));
    return bytes;
  }

  /**
   * Opens a blob for streaming from `offset`. Not verified here: the reader hashes what it consumes (the
   * ImageSource contract). Fails `NotFound` when missing.
   */
  async openBlob(desc: Descriptor, offset = 0): Promise<Readable> {
    const path = this.blobPath(desc.digest);
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw err.code === "ENOENT" ? missing(this.dir, desc, err) : err;
    });
    if (st.size !== desc.size) {
      throw dataLoss(
        `blob ${path} is ${st.size} bytes, its descriptor says ${desc.size}; pull or copy the image again to replace it`,
      );
    }
    if (offset >= desc.size) return Readable.from([]);
    return readFileStream(path, offset);
  }

  /**
   * The `index.json` entry a tag names, as skopeo's `oci:DIR:TAG` finds it: the entry whose
   * `org.opencontainers.image.ref.name` equals `tag`. Without a tag, the only entry when there is exactly
   * one. Otherwise `NotFound` listing the refs the layout holds.
   */
  async findByRef(tag?: string): Promise<Descriptor> {
    const { manifests } = await this.index();
    if (tag === undefined || tag === "") {
      if (manifests.length === 1) return manifests[0]!;
      throw notFound(
        `${this.dir} holds ${manifests.length} images, so a tag is needed (oci:${this.dir}:TAG); ${refList(manifests)}`,
      );
    }
    const found = manifests.filter((m) => m.annotations?.[Annotation.RefName] === tag);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      throw invalidArgument(
        `${this.dir}: ${found.length} entries in index.json are named ${JSON.stringify(tag)}`,
      );
    }
    throw notFound(`no image named ${JSON.stringify(tag)} in ${this.dir}; ${refList(manifests)}`);
  }
}

function refList(manifests: Descriptor[]): string {
  const refs = manifests.map((m) => m.annotations?.[Annotation.RefName]).filter((r) => r !== undefined);
  return refs.length
    ? `it has: ${refs.join(", ")}`
    : "its index.json names no refs (org.opencontainers.image.ref.name)";
}

function missing(dir: string, desc: Descriptor, cause: unknown) {
  return notFound(
    `blob ${desc.digest} is not in ${dir}; the layout is incomplete (copy or pull the image again)`,
    {
      cause,
    },
  );
}

/** Checks `dir` holds `oci-layout` version 1.0.0 and an `index.json`. */
export async function checkLayout(dir: string): Promise<void> {
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") throw notFound(`${dir} does not exist; give the path of an OCI image layout`);
    throw err;
  });
  if (!st.isDirectory()) {
    throw invalidArgument(
      `${dir} is not a directory; an OCI image layout is a directory (use oci-archive: for a tar)`,
    );
  }
  const marker = join(dir, "oci-layout");
  let version: unknown;
  try {
    version = (JSON.parse(await readFile(marker, "utf8")) as { imageLayoutVersion?: unknown })
      .imageLayoutVersion;
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === "ENOENT"
        ? "has no oci-layout file"
        : "has an unreadable oci-layout file";
    throw invalidArgument(
      `${dir} ${why}, so it is not an OCI image layout (make one with skopeo copy ... oci:${dir}:TAG)`,
      {
        cause: err,
      },
    );
  }
  if (version !== IMAGE_LAYOUT_VERSION) {
    throw invalidArgument(
      // Not JSON.stringify: a hostile value nested a few thousand deep overflows its stack.
      `${marker}: imageLayoutVersion is ${typeof version === "string" ? JSON.stringify(version.slice(0, 80)) : `not a string (${version === null ? "null" : typeof version})`}; only ${IMAGE_LAYOUT_VERSION} is supported`,
    );
  }
  await stat(join(dir, "index.json")).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT")
      throw invalidArgument(`${dir} has no index.json, so it is not a complete OCI image layout`);
    throw err;
  });
}
