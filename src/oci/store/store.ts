/**
 * The local content store (DESIGN decision 10): an OCI image layout under the nodewasi root, so `skopeo copy
 * oci:$ROOT:NAME` and any layout reader can read it, plus nodewasi's own folders beside it:
 *
 *     oci-layout, index.json, blobs/sha256/<hex>   the layout (tags in index.json)
 *     index.json.bak                               a second copy of index.json (store-index.ts)
 *     ingest/<hex>/{data,lock}                     partial downloads, resumable
 *     leases/<id>.{lock,json}                      what pulls in flight protect from prune (store-lease.ts)
 *     modules/sha256/<hex>                         extracted wasm modules, by their own digest
 *     rootfs/<manifest-hex>/                       the unpacked rootfs of a manifest
 *     extracted/<manifest-hex>.json                what a pull extracted from a manifest
 *
 * Everything that enters it is verified first and arrives by atomic rename, so a crash or a concurrent pull
 * leaves either nothing or the right bytes. Several processes may use one store at once (locks in lock.ts).
 * What is used is checked again (the runner hashes the module it compiles, a pull verifies what it reuses),
 * because a disk or a person can change stored bytes; `checkStore` (store-check.ts) verifies all of it.
 */

import {
  copyFile,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import {
  type Digest,
  DigestStream,
  dataLoss,
  digestHex,
  parseDigest,
  pathExists,
  sha256,
} from "../../internal/index.js";
import { Annotation, type Descriptor, type ImageIndex, MediaType } from "../image/index.js";
import { atomicWrite, atomicWriteIfChanged, syncDir, tempPath } from "./atomic-write.js";
import { Ingest } from "./ingest.js";
import { checkLayout, IMAGE_LAYOUT_VERSION, OciLayout } from "./layout.js";
import { acquireLock, type LockOptions, type LockWait } from "./lock.js";
import type { PullResult } from "./pull-types.js";
import { readFileStream } from "./read-file-stream.js";
import {
  damagedIndexError,
  entryName,
  INDEX_BACKUP_FILE,
  INDEX_FILE,
  type IndexRead,
  readIndexFile,
} from "./store-index.js";
import { Lease } from "./store-lease.js";
import { type PruneResult, pruneStore } from "./store-prune.js";
import { type Verdict, verifyFile } from "./store-verify.js";

export type { Ingest } from "./ingest.js";
export type { LockWait } from "./lock.js";
export { entryName } from "./store-index.js";
export type { Lease } from "./store-lease.js";
export type { PruneResult } from "./store-prune.js";
export type { Verdict } from "./store-verify.js";

/** How a store waits for locks other processes hold. */
export interface StoreOptions {
  /** Told who holds a lock this store waits for (after a second, then every 30 s), for "waiting for" lines. */
  onLockWait?: (wait: LockWait) => void;
  /** The longest wait for a lock a live process holds (default: as long as that process renews it). */
  lockTimeoutMs?: number;
}

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
  readonly #opts: StoreOptions;

  protected constructor(root: string, opts: StoreOptions = {}) {
    super(root);
    this.#opts = opts;
  }

  /**
   * Opens the store at `root`, creating whatever is missing (folders mode 0700: pulls may hold private images).
   * index.json is created only in a store that holds nothing yet: a store with content whose index.json is gone
   * has lost its names, which `nodewasi check --repair` rebuilds (an empty one would let prune delete it all).
   */
  static override async open(root: string, opts: StoreOptions = {}): Promise<ContentStore> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    for (const d of ["blobs/sha256", "ingest", "modules/sha256", "rootfs", "extracted"]) {
      await mkdir(join(root, d), { recursive: true, mode: 0o700 });
    }
    await createOnce(
      join(root, "oci-layout"),
      `${JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION })}\n`,
    );
    if (!(await pathExists(join(root, INDEX_FILE))) && (await isEmptyStore(root))) {
      const empty: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
      await createOnce(join(root, INDEX_FILE), `${JSON.stringify(empty, null, 2)}\n`);
    }
    // Without index.json, checkLayout would call the store a foreign folder; index() says what is wrong instead.
    if (await pathExists(join(root, INDEX_FILE))) await checkLayout(root);
    return new ContentStore(root, opts);
  }

  /** The store root. */
  get root(): string {
    return this.dir;
  }

  /** Lock options for a lock of this store guarding `what`. */
  lockOptions(what: string): LockOptions {
    return {
      what,
      ...(this.#opts.onLockWait ? { onWait: this.#opts.onLockWait } : {}),
      ...(this.#opts.lockTimeoutMs !== undefined ? { timeoutMs: this.#opts.lockTimeoutMs } : {}),
    };
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
      lock: this.lockOptions(`the download of ${desc.digest} into ${this.dir}`),
    };
    return Ingest.begin(desc, target, signal);
  }

  /**
   * Stores small content (manifests, configs) by its digest; atomic and idempotent. A stored copy whose bytes
   * differ (damaged since) is replaced: these blobs are small, so comparing costs little.
   */
  async writeBlob(bytes: Uint8Array): Promise<{ digest: Digest; size: number }> {
    const digest = sha256(bytes);
    const path = this.blobPath(digest);
    const stored = await readFile(path).catch(() => undefined);
    if (stored === undefined || !stored.equals(bytes)) {
      await rm(path, { recursive: true, force: true }); // a folder or a link in its place, too
      await atomicWrite(path, bytes);
    }
    return { digest, size: bytes.length };
  }

  /** Whether the blob is present as a regular file whose bytes hash to its digest (reads it whole). */
  verifyBlob(desc: Descriptor): Promise<Verdict> {
    return verifyFile(this.blobPath(desc.digest), desc.digest, desc.size);
  }

  /** Whether the module is present and its bytes hash to its digest (reads it whole). */
  verifyModule(digest: Digest, size?: number): Promise<Verdict> {
    return verifyFile(this.modulePath(digest), digest, size);
  }

  /**
   * Removes stored content found damaged (a blob, a module, a rootfs folder), so that the next pull fetches or
   * extracts it again. A folder is first renamed to a temporary name, so a crash half way leaves a leftover that
   * the next sweep removes, never a half rootfs under its real name.
   */
  async discard(path: string): Promise<void> {
    const aside = tempPath(path);
    try {
      await rename(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    await rm(aside, { recursive: true, force: true });
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

  /**
   * index.json, validated. `DataLoss` (damagedIndexError) when it is missing, too large, not JSON or of the
   * wrong shape: the message says what is wrong and that `nodewasi check --repair` rebuilds it.
   */
  override async index(): Promise<ImageIndex> {
    const read = await this.readIndex();
    if ("problem" in read) throw damagedIndexError(this.dir, read.problem);
    return read.index;
  }

  /** index.json as read, damaged or not (for `nodewasi check`). */
  readIndex(): Promise<IndexRead> {
    return readIndexFile(join(this.dir, INDEX_FILE));
  }

  /**
   * Replaces index.json (under its lock) with `index`: the backup copy first, then index.json, each by atomic
   * rename. For `nodewasi check --repair`; everything else changes names with `tag` and `untag`.
   */
  writeIndex(index: ImageIndex): Promise<void> {
    return this.underIndexLock(() => this.#writeIndex(index));
  }

  /**
   * Takes a lease (store-lease.ts): digests it protects are kept by prune until it is released. A pull holds
   * one from its start until its name is tagged.
   */
  lease(): Promise<Lease> {
    return Lease.take(this.dir, (fn) => this.underIndexLock(fn));
  }

  /** Runs `fn` under the index lock (what prune holds while it marks and sweeps). */
  async underIndexLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = await acquireLock(join(this.dir, "index.json.lock"), this.#indexLock());
    try {
      return await fn();
    } finally {
      await lock?.release();
    }
  }

  /** Rewrites index.json and its backup from index.json as it is (under the lock): a backup for older stores. */
  refreshIndex(): Promise<void> {
    return this.#updateIndex((m) => m);
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
   * refused (`DataLoss`). A module already stored under that digest is kept when it is this very file, and
   * replaced otherwise (it may have been damaged since; the source is known good). With `lease`, the module is
   * protected from prune before it is stored. Idempotent.
   */
  async importModule(
    srcPath: string,
    opts: { digest?: Digest; verified?: boolean; lease?: Lease } = {},
  ): Promise<{ digest: Digest; size: number; path: string }> {
    const dir = join(this.dir, "modules", "sha256");
    let digest = opts.digest;
    if (!digest || !opts.verified) {
      const hasher = new DigestStream();
      for await (const _ of readFileStream(srcPath).pipe(hasher)) void _;
      if (digest && hasher.digest() !== digest) {
        throw dataLoss(
          `module ${srcPath} hashes to ${hasher.digest()}, expected ${digest}; pull the image again`,
        );
      }
      digest = hasher.digest();
    }
    await opts.lease?.protect([digest]);
    const path = this.modulePath(digest);
    const [src, known] = await Promise.all([stat(srcPath), lstat(path).catch(() => undefined)]);
    if (known?.isFile() && known.ino === src.ino && known.dev === src.dev) {
      return { digest, size: known.size, path };
    }
    const tmp = tempPath(path);
    try {
      await link(srcPath, tmp).catch(() => copyFile(srcPath, tmp));
      const size = (await stat(tmp)).size;
      if (known?.isDirectory()) await this.discard(path);
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
    await atomicWriteIfChanged(this.recordPath(manifestDigest), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The record written by `recordExtraction`, or undefined when there is none (or it is unreadable). */
  async extraction(manifestDigest: Digest): Promise<unknown> {
    try {
      return JSON.parse(await readFile(this.recordPath(manifestDigest), "utf8")) as unknown;
    } catch {
      return undefined;
    }
  }

  /** Where the pull record of a manifest is kept. */
  recordPath(manifestDigest: Digest): string {
    return join(this.dir, "extracted", `${digestHex(parseDigest(manifestDigest, "manifest digest"))}.json`);
  }

  /**
   * Deletes everything no tag reaches: blobs, modules, rootfs folders, extraction records and the partial
   * downloads and temporary files of processes that are gone (store-prune.ts). Runs under the index lock, so no
   * tag is added while it marks; refuses to run on a damaged index.json (it would delete what a lost name reached).
   */
  prune(): Promise<PruneResult> {
    return this.underIndexLock(() => pruneStore(this));
  }

  #indexLock(): LockOptions {
    return this.lockOptions(`the list of images of ${this.dir}`);
  }

  /** Read-modify-write of index.json under `index.json.lock`. */
  #updateIndex(change: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    return this.underIndexLock(async () => {
      const index = await this.index();
      await this.#writeIndex({ ...index, manifests: change(index.manifests) });
    });
  }

  /**
   * The backup first, then index.json: whichever a crash or a damaged disk spares, the names survive. Either
   * that already holds the same text is left as it is (a pull of a stored image changes no name).
   */
  async #writeIndex(index: ImageIndex): Promise<void> {
    const text = `${JSON.stringify(index, null, 2)}\n`;
    await atomicWriteIfChanged(join(this.dir, INDEX_BACKUP_FILE), text);
    await atomicWriteIfChanged(join(this.dir, INDEX_FILE), text);
  }
}

/** Creates `path` with `data` unless it exists; safe when two processes race (link fails on EEXIST). */
async function createOnce(path: string, data: string): Promise<void> {
  if (await pathExists(path)) return;
  const tmp = tempPath(path);
  await writeFile(tmp, data, { mode: 0o600 });
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Whether a store folder holds no content yet (no blob, no pull record): a new store. */
async function isEmptyStore(root: string): Promise<boolean> {
  for (const d of ["blobs/sha256", "extracted"]) {
    if ((await readdir(join(root, d)).catch(() => [])).length > 0) return false;
  }
  return true;
}
