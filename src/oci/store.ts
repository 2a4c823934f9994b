/**
 * The local content store (DESIGN decision 10): an OCI image layout under the nodewasi root, so `skopeo copy
 * oci:$ROOT:NAME` and any layout reader can read it, plus nodewasi's own folders beside it:
 *
 *     oci-layout, index.json, blobs/sha256/<hex>   the layout (tags in index.json)
 *     ingest/<hex>/{data,lock}                     partial downloads, resumable
 *     modules/sha256/<hex>                         extracted wasm modules, by their own digest
 *     rootfs/<manifest-hex>/                       the unpacked rootfs of a manifest
 *     extracted/<manifest-hex>.json                what a pull extracted from a manifest
 *
 * Everything that enters it is verified first and arrives by atomic rename, so a crash or a concurrent pull
 * leaves either nothing or the right bytes. Several processes may use one store at once (locks in lock.ts).
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, link, mkdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Digest, DigestStream, dataLoss, digestHex, parseDigest, sha256 } from "../internal/index.js";
import { Ingest, syncDir } from "./ingest.js";
import { checkLayout, IMAGE_LAYOUT_VERSION, OciLayout } from "./layout.js";
import { acquireLock } from "./lock.js";
import { MediaType } from "./media-types.js";
import type { PullResult } from "./pull-types.js";
import { type PruneResult, pruneStore } from "./store-prune.js";
import { Annotation, type Descriptor, type ImageIndex } from "./types.js";

export type { Ingest } from "./ingest.js";
export type { PruneResult } from "./store-prune.js";

/** A tagged image: its name (`io.containerd.image.name`) and what the name points at. */
export interface StoredImage {
  name: string;
  descriptor: Descriptor;
}

/**
 * nodewasi's content store: the layout readers of `OciLayout` plus ingest, tags, modules, rootfs folders,
 * extraction records and prune. Safe to share between processes.
 */
export class ContentStore extends OciLayout {
  /** Opens the store at `root`, creating whatever is missing (folders mode 0700: pulls may hold private images). */
  static override async open(root: string): Promise<ContentStore> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    for (const d of ["blobs/sha256", "ingest", "modules/sha256", "rootfs", "extracted"]) {
      await mkdir(join(root, d), { recursive: true, mode: 0o700 });
    }
    await createOnce(
      join(root, "oci-layout"),
      `${JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION })}\n`,
    );
    const empty: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    await createOnce(join(root, "index.json"), `${JSON.stringify(empty, null, 2)}\n`);
    await checkLayout(root);
    return new ContentStore(root);
  }

  /** The store root. */
  get root(): string {
    return this.dir;
  }

  /**
   * Starts or resumes the download of `desc` (see `Ingest`). Waits while another process ingests the same blob,
   * and returns `complete: true` once the blob is stored by anyone. Always `release()` the result.
   */
  ingest(desc: Descriptor, signal?: AbortSignal): Promise<Ingest> {
    const target = {
      dir: join(this.dir, "ingest", digestHex(parseDigest(desc.digest, "blob digest"))),
      blobPath: this.blobPath(desc.digest),
      has: (d: Descriptor) => this.has(d),
    };
    return Ingest.begin(desc, target, signal);
  }

  /** Stores small content (manifests, configs) by its digest; atomic and idempotent. */
  async writeBlob(bytes: Uint8Array): Promise<{ digest: Digest; size: number }> {
    const digest = sha256(bytes);
    const desc = { mediaType: "application/octet-stream", digest, size: bytes.length };
    if (!(await this.has(desc))) await this.#atomicWrite(this.blobPath(digest), bytes);
    return { digest, size: bytes.length };
  }

  /**
   * Names `desc` `name` (a full reference) in index.json, with `io.containerd.image.name` and
   * `org.opencontainers.image.ref.name` both set to it, replacing an older entry of that name (containerd's
   * image store semantics: a name points at one thing).
   */
  async tag(name: string, desc: Descriptor): Promise<void> {
    const annotations = { ...desc.annotations, [Annotation.ImageName]: name, [Annotation.RefName]: name };
    const entry: Descriptor = {
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      annotations,
    };
    if (desc.platform) entry.platform = desc.platform;
    if (desc.artifactType) entry.artifactType = desc.artifactType;
    await this.#updateIndex((m) => [...m.filter((e) => entryName(e) !== name), entry]);
  }

  /** Removes the name; returns whether it was there. Content goes at the next `prune`. */
  async untag(name: string): Promise<boolean> {
    let found = false;
    await this.#updateIndex((m) => {
      const kept = m.filter((e) => entryName(e) !== name);
      found = kept.length !== m.length;
      return kept;
    });
    return found;
  }

  /** What `name` points at, or undefined. */
  async resolve(name: string): Promise<Descriptor | undefined> {
    return (await this.index()).manifests.find((e) => entryName(e) === name);
  }

  /** Every named image in index.json order (entries without a name are skipped). */
  async images(): Promise<StoredImage[]> {
    const out: StoredImage[] = [];
    for (const descriptor of (await this.index()).manifests) {
      const name = entryName(descriptor);
      if (name !== undefined) out.push({ name, descriptor });
    }
    return out;
  }

  /** Where the module with this digest is kept. */
  modulePath(digest: Digest): string {
    return join(this.dir, "modules", "sha256", digestHex(parseDigest(digest, "module digest")));
  }

  /**
   * Keeps the module at `srcPath` under its digest and returns where it went. The module is hardlinked, not
   * copied: sources are immutable content of this store (a verified blob, or a file of an image's rootfs,
   * which tasks never write to: they get their own overlay or copy), so sharing the inode costs nothing and writes no
   * bytes. Across file systems it is copied. The digest is computed by reading the file unless the caller
   * vouches for it with `verified` (it hashed these very bytes itself); a given digest that does not match is
   * refused (`DataLoss`). Idempotent.
   */
  async importModule(
    srcPath: string,
    opts: { digest?: Digest; verified?: boolean } = {},
  ): Promise<{ digest: Digest; size: number; path: string }> {
    const dir = join(this.dir, "modules", "sha256");
    const known = opts.digest ? this.modulePath(opts.digest) : undefined;
    if (known && (await exists(known)))
      return { digest: opts.digest!, size: (await stat(known)).size, path: known };
    let digest = opts.digest;
    if (!digest || !opts.verified) {
      const hasher = new DigestStream();
      for await (const _ of createReadStream(srcPath).pipe(hasher)) void _;
      if (digest && hasher.digest() !== digest) {
        throw dataLoss(
          `module ${srcPath} hashes to ${hasher.digest()}, expected ${digest}; pull the image again`,
        );
      }
      digest = hasher.digest();
    }
    const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      await link(srcPath, tmp).catch(() => copyFile(srcPath, tmp));
      const size = (await stat(tmp)).size;
      const path = this.modulePath(digest);
      await rename(tmp, path);
      await syncDir(dir);
      return { digest, size, path };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * The record of the last pull behind a tag's descriptor: the tag names the manifest its pull chose (the tag
   * itself may point at an index). Undefined when there is none, e.g. a pull that never finished.
   */
  async pullRecord(desc: Descriptor): Promise<PullResult | undefined> {
    const manifest = (desc.annotations?.[Annotation.PulledManifest] ?? desc.digest) as Digest;
    const record = (await this.extraction(manifest).catch(() => undefined)) as PullResult | undefined;
    return record?.module?.digest ? record : undefined;
  }

  /** Where the rootfs of a manifest is unpacked. */
  rootfsPath(manifestDigest: Digest): string {
    return join(this.dir, "rootfs", digestHex(parseDigest(manifestDigest, "manifest digest")));
  }

  /** Records what a pull extracted from a manifest (JSON, replaced atomically). Prune keeps what it names. */
  async recordExtraction(manifestDigest: Digest, record: object): Promise<void> {
    await this.#atomicWrite(this.#recordPath(manifestDigest), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The record written by `recordExtraction`, or undefined when there is none (or it is unreadable). */
  async extraction(manifestDigest: Digest): Promise<unknown> {
    try {
      return JSON.parse(await readFile(this.#recordPath(manifestDigest), "utf8")) as unknown;
    } catch {
      return undefined;
    }
  }

  /**
   * Deletes everything no tag reaches: blobs, modules, rootfs folders, extraction records and the partial
   * downloads of processes that are gone (store-prune.ts). Runs under the index lock, so no tag is added
   * while it marks.
   */
  async prune(): Promise<PruneResult> {
    const lock = await acquireLock(join(this.dir, "index.json.lock"));
    try {
      return await pruneStore(this);
    } finally {
      await lock?.release();
    }
  }

  #recordPath(manifestDigest: Digest): string {
    return join(this.dir, "extracted", `${digestHex(parseDigest(manifestDigest, "manifest digest"))}.json`);
  }

  /** Read-modify-write of index.json under `index.json.lock`, written to a temp file and renamed. */
  async #updateIndex(change: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    const lock = await acquireLock(join(this.dir, "index.json.lock"));
    try {
      const index = await this.index();
      const next: ImageIndex = { ...index, manifests: change(index.manifests) };
      await this.#atomicWrite(join(this.dir, "index.json"), `${JSON.stringify(next, null, 2)}\n`);
    } finally {
      await lock?.release();
    }
  }

  async #atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      await writeFile(tmp, data, { mode: 0o600, flush: true });
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/** The name of an index.json entry: the full reference, else the layout ref name (skopeo-written entries). */
export function entryName(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.ImageName] ?? d.annotations?.[Annotation.RefName];
}

/** Creates `path` with `data` unless it exists; safe when two processes race (link fails on EEXIST). */
async function createOnce(path: string, data: string): Promise<void> {
  if (await exists(path)) return;
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, data, { mode: 0o600 });
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
