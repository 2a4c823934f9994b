/**
 * One blob download into the content store (DESIGN decision 10), resumable like containerd's
 * `ingest/<ref>/data`: partial bytes stay in `ingest/<hex>/data` across failures and processes, the hash is
 * seeded by re-reading them, and the blob enters `blobs/sha256/` only after size and digest match, by an
 * atomic rename. A lock file per ingest (lock.ts) keeps two processes from writing the same data file.
 */
import { createHash, type Hash } from "node:crypto";
import { mkdir, open, rename, rm, rmdir, stat, truncate } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import {
  Code,
  type Digest,
  dataLoss,
  invalidArgument,
  ShimError,
  verifyContent,
} from "../../internal/index.js";
import type { Descriptor } from "../image/index.js";
import { syncDir } from "./atomic-write.js";
import { BatchWriter } from "./batch-writer.js";
import { acquireLock, type HeldLock, type LockOptions } from "./lock.js";
import { readFileStream } from "./read-file-stream.js";

/** Where an ingest writes, and how the store answers "is the blob there". */
export interface IngestTarget {
  /** `ingest/<hex>` of this blob. */
  dir: string;
  /** Final place, `blobs/sha256/<hex>`. */
  blobPath: string;
  has(desc: Descriptor): Promise<boolean>;
  /** How to wait for another process's download of the same blob (what it is, who to tell). */
  lock?: LockOptions;
}

/**
 * A download in progress, held under its ingest lock until `release()`. Use: `begin`, then (unless
 * `complete`) `write` from `offset` (again after a failure), `commit`, and always `release`.
 */
export class Ingest {
  readonly desc: Descriptor;
  /** True when the blob is already in the store: nothing to write, `commit` and `release` do nothing. */
  readonly complete: boolean;
  /** Bytes already present (a previous partial download), where `write` continues. */
  offset: number;
  #hash: Hash;
  readonly #target: IngestTarget | undefined;
  readonly #lock: HeldLock | undefined;
  #committed = false;

  private constructor(desc: Descriptor, offset: number, hash: Hash, target?: IngestTarget, lock?: HeldLock) {
    this.desc = desc;
    this.complete = target === undefined;
    this.offset = offset;
    this.#hash = hash;
    this.#target = target;
    this.#lock = lock;
  }

  /**
   * Starts (or resumes) the ingest of `desc`: waits while another process holds its lock, and returns a
   * `complete` ingest as soon as the blob is in the store. Partial data longer than the descriptor is dropped.
   */
  static async begin(desc: Descriptor, target: IngestTarget, signal?: AbortSignal): Promise<Ingest> {
    const done = () => new Ingest(desc, desc.size, createHash("sha256"));
    if (await target.has(desc)) return done();
    await mkdir(target.dir, { recursive: true, mode: 0o700 });
    const lock = await acquireLock(join(target.dir, "lock"), {
      ...target.lock,
      until: () => target.has(desc),
      ...(signal ? { signal } : {}),
    });
    if (lock === undefined) return done();
    try {
      if (await target.has(desc)) {
        await lock.release();
        return done();
      }
      const data = join(target.dir, "data");
      const size = await stat(data).then(
        (s) => s.size,
        () => 0,
      );
      if (size > desc.size) await truncate(data, 0);
      const partial = await readPartial(data);
      return new Ingest(desc, partial.offset, partial.hash, target, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /**
   * Appends `stream` to the partial data. `fromOffset` is where the stream starts: `offset` for a resumed
   * download, or 0 when the source could not resume (HTTP 200 to a Range request), which discards the partial
   * bytes first. A stream error leaves what was written for a later resume and is rethrown as is.
   */
  async write(stream: Readable, fromOffset: number, onBytes?: (n: number) => void): Promise<void> {
    const target = this.#writable();
    const data = join(target.dir, "data");
    if (fromOffset !== this.offset) {
      if (fromOffset !== 0) {
        throw invalidArgument(
          `ingest of ${this.desc.digest}: cannot continue at ${fromOffset}, have ${this.offset}`,
        );
      }
      await truncate(data, 0).catch(() => {});
      this.offset = 0;
      this.#hash = createHash("sha256");
    }
    // The stream may fail while the file opens, before anything listens: without a listener that would be
    // an uncaught exception; the loop below still sees the failure (a destroyed stream throws when iterated).
    const quiet = () => {};
    stream.on("error", quiet);
    const fh = await open(data, "a", 0o600);
    const out = new BatchWriter(fh);
    let full: ShimError | undefined;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (this.offset + chunk.length > this.desc.size) {
          out.discard();
          await out.flush().catch(() => {});
          await fh.truncate(0);
          ({ offset: this.offset, hash: this.#hash } = await readPartial(data));
          throw dataLoss(
            `content ${this.desc.digest} is larger than its descriptor says (${this.desc.size} bytes)`,
            { temporary: true },
          );
        }
        this.#hash.update(chunk);
        this.offset += chunk.length;
        onBytes?.(chunk.length);
        await out.write(chunk);
      }
      await out.flush();
    } catch (err) {
      full = this.#noSpace(err, target.dir);
      if (!full) throw err;
      out.discard();
      await out.flush().catch(() => {});
      // Counted bytes did not all reach the file: continue from what did.
      ({ offset: this.offset, hash: this.#hash } = await readPartial(data));
      throw full;
    } finally {
      stream.off("error", quiet);
      // Every counted byte reaches the file, also when the stream broke, so a resume continues exactly there.
      const flushed = out.flush();
      await (full ? flushed.catch(() => {}) : flushed).finally(() => fh.close());
    }
  }

  /** A full disk (or quota) as the user should read it: where, how far, and that a retry resumes. */
  #noSpace(err: unknown, dir: string): ShimError | undefined {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno !== "ENOSPC" && errno !== "EDQUOT") return undefined;
    return new ShimError(
      Code.ResourceExhausted,
      `no space left on the device of ${dir} while storing ${this.desc.digest} (${this.desc.size} bytes); free space and pull again: the download resumes from what is stored`,
      { cause: err },
    );
  }

  /**
   * Verifies size and digest against the descriptor, syncs the data to disk and renames it into
   * `blobs/sha256/<hex>`. On a mismatch the partial data is discarded and `DataLoss` (temporary) is thrown.
   */
  async commit(): Promise<void> {
    if (this.complete || this.#committed) return;
    const target = this.#writable();
    const data = join(target.dir, "data");
    const digest: Digest = `sha256:${this.#hash.copy().digest("hex")}`;
    try {
      verifyContent(this.desc, this.offset, digest);
    } catch (err) {
      await rm(data, { force: true });
      this.offset = 0;
      this.#hash = createHash("sha256");
      throw err;
    }
    const fh = await open(data, "a", 0o600);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await mkdir(dirname(target.blobPath), { recursive: true });
    await rename(data, target.blobPath);
    await syncDir(dirname(target.blobPath));
    this.#committed = true;
  }

  /** Releases the lock; the ingest folder goes once nothing partial is left in it. Idempotent. */
  async release(): Promise<void> {
    if (this.#target === undefined || this.#lock === undefined) return;
    await this.#lock.release();
    await rmdir(this.#target.dir).catch(() => {});
  }

  #writable(): IngestTarget {
    if (this.#target === undefined || this.#committed) {
      throw invalidArgument(`ingest of ${this.desc.digest}: the blob is already stored; nothing to write`);
    }
    return this.#target;
  }
}

/** The size of the partial data at `data` and the hash of its bytes (nothing when it does not exist). */
async function readPartial(data: string): Promise<{ offset: number; hash: Hash }> {
  const hash = createHash("sha256");
  let offset = 0;
  try {
    for await (const chunk of readFileStream(data) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      offset += chunk.length;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return { offset, hash };
}
