/**
 * What processes killed mid-write leave in a store, and how it is told from a write in progress. Writers name
 * their temporary files and folders `NAME.tmp-<pid>-...` (atomic-write.ts, the rootfs unpack, module import)
 * and lock asides `NAME.stale-<pid>-...` (lock.ts). Such an entry is a leftover when its pid no longer runs, or
 * runs but started after the entry was last changed (its ctime: the pid was reused, that process did not
 * write it). A
 * stale lock file is one too. Pull, prune and `nodewasi check` all sweep with this one rule, so a SIGKILLed
 * unpack's 65 MB temporary rootfs goes at the next pull, and a live pull's never does.
 */
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { mayBeOwner } from "../../internal/index.js";
import { breakStaleLock, isStale, readHolder } from "./lock.js";
import { LEASES_DIR } from "./store-lease.js";

const OWNED_RE = /\.(?:tmp|stale)-(\d+)-/;

/** Folders of a store where writers leave temporary entries. */
const TEMP_DIRS = ["", "blobs/sha256", "modules/sha256", "rootfs", "extracted"];

/** Something a dead process left. */
export interface Leftover {
  path: string;
  /** Bytes it holds on disk (without following links). */
  bytes: number;
  /** `temporary folder of dead pid 123`, for reports. */
  why: string;
}

/**
 * Whether the entry `name` in `dir` is a temporary of a process that may still be writing it. Entries that are
 * no temporaries (no `.tmp-<pid>-`) are not in flight.
 */
export async function inFlight(dir: string, name: string): Promise<boolean> {
  const m = OWNED_RE.exec(name);
  if (m === null) return false;
  const st = await lstat(join(dir, name)).catch(() => undefined);
  // ctime, not mtime: a writer cannot set it, and link, rename and write all move it. An mtime can lie in the
  // past (a hard link of an unpacked file keeps the tar's mtime), and a live writer's temporary must not pass
  // for one a reused pid could not have made.
  return st !== undefined && mayBeOwner(Number(m[1]), st.ctimeMs);
}

/**
 * Every leftover of a dead process in the store at `root`: temporaries, lock asides, stale lock files and the
 * leases of pulls that are gone.
 */
export async function findLeftovers(root: string): Promise<Leftover[]> {
  const out: Leftover[] = [];
  for (const sub of TEMP_DIRS) {
    const dir = join(root, sub);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const m = OWNED_RE.exec(name);
      if (m === null || (await inFlight(dir, name))) continue;
      const path = join(dir, name);
      const folder = (await lstat(path).catch(() => undefined))?.isDirectory() === true;
      const kind = name.includes(".stale-")
        ? "lock file set aside"
        : folder
          ? "temporary folder"
          : "temporary file";
      out.push({ path, bytes: await diskBytes(path), why: `${kind} of pid ${m[1]}, which is gone` });
    }
  }
  const locks = [join(root, "index.json.lock")];
  for (const hex of await readdir(join(root, "ingest")).catch(() => [] as string[])) {
    locks.push(join(root, "ingest", hex, "lock"));
  }
  const leases = join(root, LEASES_DIR);
  const leaseFiles = await readdir(leases).catch(() => [] as string[]);
  for (const name of leaseFiles) if (name.endsWith(".lock")) locks.push(join(leases, name));
  for (const path of locks) {
    const holder = await readHolder(path).catch(() => undefined);
    if (holder === undefined || !isStale(holder)) continue;
    const who = holder.pid ? `pid ${holder.pid}, which is gone` : "a process that died while taking it";
    out.push({ path, bytes: holder.content.length, why: `lock held by ${who}` });
  }
  // A lease's digests outlive its lock only when its holder died: they protect nothing any more.
  for (const name of leaseFiles) {
    if (!name.endsWith(".json")) continue;
    const holder = await readHolder(join(leases, name.replace(/\.json$/, ".lock"))).catch(() => undefined);
    if (holder !== undefined && !isStale(holder)) continue;
    const path = join(leases, name);
    out.push({ path, bytes: await diskBytes(path), why: "lease of a pull that is gone" });
  }
  return out;
}

/**
 * Removes the leftovers of dead processes. A stale lock is broken as lock.ts breaks one, so a lock a live process
 * took in the meantime stays; everything else has a dead owner by name and is no one's.
 */
export async function removeLeftovers(root: string): Promise<Leftover[]> {
  const removed: Leftover[] = [];
  for (const l of await findLeftovers(root)) {
    if (l.why.startsWith("lock held")) {
      const now = await readHolder(l.path).catch(() => undefined);
      if (now === undefined || !isStale(now)) continue;
      await breakStaleLock(l.path, now.content);
    } else {
      await rm(l.path, { recursive: true, force: true });
    }
    removed.push(l);
  }
  return removed;
}

/** Bytes under `path`, never following symlinks (a rootfs may hold links that loop or point anywhere). */
export async function diskBytes(path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[]))
    total += await diskBytes(join(path, name));
  return total;
}
