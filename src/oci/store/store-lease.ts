/**
 * Leases: what a pull in flight is about to store or reuse, kept from prune until its name is tagged. Prune
 * keeps only what names reach, and a pull tags its name last, so without a lease a prune in the middle of a
 * pull deleted the layers, manifests and module the pull had just stored (containerd's GC has leases for the
 * same reason).
 *
 * A lease is two files in `leases/`: `<id>.lock`, a lock file held for the lease's life (lock.ts: it names its
 * holder, is renewed, and is stale once the holder is gone), and `<id>.json`, the digests it protects. A digest
 * is added under the store's index lock before the content it names is written or relied on, and prune marks
 * under that same lock, so prune either sees the digest or runs entirely before the content exists.
 *
 * The digests file is replaced atomically but not synced: a lease counts only while its holder lives, and only a
 * machine crash can lose an unsynced file, which ends the holder too (its lock then names another boot). A sync
 * would buy nothing and cost two per protect on a pull's path.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Digest, digestHex, isDigest } from "../../internal/index.js";
import { atomicWrite } from "./atomic-write.js";
import { acquireLock, type HeldLock, isStale, readHolder } from "./lock.js";

/** The folder of leases in a store. */
export const LEASES_DIR = "leases";

/** A live lease: protect digests with `protect`, and `release` once the name is tagged (or the pull failed). */
export class Lease {
  readonly #dir: string;
  readonly #id: string;
  readonly #lock: HeldLock;
  readonly #underIndexLock: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly #digests = new Set<string>();

  private constructor(
    dir: string,
    id: string,
    lock: HeldLock,
    underIndexLock: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {
    this.#dir = dir;
    this.#id = id;
    this.#lock = lock;
    this.#underIndexLock = underIndexLock;
  }

  /** Takes a new lease in the store at `root`; `underIndexLock` runs a function under the store's index lock. */
  static async take(root: string, underIndexLock: <T>(fn: () => Promise<T>) => Promise<T>): Promise<Lease> {
    const dir = join(root, LEASES_DIR);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const id = `${process.pid}-${randomBytes(6).toString("hex")}`;
    const lock = await acquireLock(join(dir, `${id}.lock`));
    return new Lease(dir, id, lock!, underIndexLock);
  }

  /** Protects `digests` (blobs, manifests with their rootfs and record, modules) until `release`. */
  async protect(digests: Iterable<Digest>): Promise<void> {
    const fresh = [...digests].map(digestHex).filter((h) => !this.#digests.has(h));
    if (fresh.length === 0) return;
    for (const hex of fresh) this.#digests.add(hex);
    const text = `${JSON.stringify({ digests: [...this.#digests].map((h) => `sha256:${h}`) })}\n`;
    await this.#underIndexLock(() =>
      atomicWrite(join(this.#dir, `${this.#id}.json`), text, { durable: false }),
    );
  }

  /** Ends the lease; what it protected is prune's again. Idempotent. */
  async release(): Promise<void> {
    await rm(join(this.#dir, `${this.#id}.json`), { force: true });
    await this.#lock.release();
  }
}

/** The hex of every digest a live lease protects (the caller holds the index lock). */
export async function leasedDigests(root: string): Promise<Set<string>> {
  const dir = join(root, LEASES_DIR);
  const out = new Set<string>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith(".json")) continue;
    const holder = await readHolder(join(dir, name.replace(/\.json$/, ".lock")));
    if (holder === undefined || isStale(holder)) continue;
    const lease = JSON.parse(await readFile(join(dir, name), "utf8").catch(() => "{}")) as {
      digests?: unknown;
    };
    for (const d of Array.isArray(lease.digests) ? lease.digests : []) {
      if (typeof d === "string" && isDigest(d)) out.add(digestHex(d));
    }
  }
  return out;
}
