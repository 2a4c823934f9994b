/**
 * Lock files between processes sharing one content store (two `nodewasi pull` of the same image, a shim and
 * a CLI). A lock is a file created with `O_EXCL` holding the owner's pid and a random token; a lock whose pid is
 * dead is stale and stolen; a live holder is waited for by polling, bounded by the caller's AbortSignal.
 * Polling (50 ms) is what containerd's content store does for an ingest ref held elsewhere ("unavailable" then
 * retry); advisory `flock` is not in Node's standard library.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { sleep } from "../internal/index.js";

/** How often a waiter looks again at a lock held by a live process. */
export const LOCK_POLL_MS = 50;

/** How `acquireLock` waits. */
export interface LockOptions {
  signal?: AbortSignal;
  /** Checked while waiting: when it returns true the lock is no longer needed and `acquire` returns undefined. */
  until?: () => Promise<boolean>;
}

/** A held lock; `release` is idempotent and removes the file only while it is still this holder's. */
export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Takes the lock file at `path`, waiting while a live process holds it. Returns undefined when `until` became
 * true first. Rejects with the signal's reason when aborted.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<HeldLock | undefined> {
  const token = `${process.pid} ${randomBytes(8).toString("hex")}\n`;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (opts.until && (await opts.until())) return undefined;
    try {
      const fh = await open(path, "wx", 0o600);
      try {
        await fh.writeFile(token);
      } finally {
        await fh.close();
      }
      return heldLock(path, token);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        // The folder went with the holder's release (an ingest that wrote nothing): make it again and retry.
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        continue;
      }
      if (code !== "EEXIST") throw err;
    }
    const holder = await readHolder(path);
    if (holder !== undefined && isStale(holder)) await steal(path, holder.content);
    else await sleep(LOCK_POLL_MS, opts.signal);
  }
}

/** What a lock file says: the holder's pid (0 when unreadable) and when it was written. */
export interface LockHolder {
  pid: number;
  content: string;
  mtimeMs: number;
}

/** The holder recorded in a lock file, or undefined when there is no lock. */
export async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const [content, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const pid = Number.parseInt(content, 10);
    return { pid: Number.isSafeInteger(pid) && pid > 0 ? pid : 0, content, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Whether a lock is stale: its pid is dead, or it has no pid and is older than `EMPTY_LOCK_GRACE_MS` (a
 * process died between creating the file and writing its pid; a younger empty lock is being written now).
 */
export function isStale(holder: LockHolder): boolean {
  if (holder.pid === 0) return Date.now() - holder.mtimeMs > EMPTY_LOCK_GRACE_MS;
  return !isAlive(holder.pid);
}

/** How long a lock file may stay empty (being written) before it counts as abandoned. */
export const EMPTY_LOCK_GRACE_MS = 2000;

/** Whether a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes a stale lock without ever removing a fresh one taken meanwhile by another process: the file is
 * moved aside first and checked; if it turns out to be someone else's new lock, it is put back with `link`,
 * which fails rather than overwrite a lock taken in between.
 */
async function steal(path: string, staleContent: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const content = await readFile(aside, "utf8").catch(() => staleContent);
  if (content !== staleContent) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}

function heldLock(path: string, token: string): HeldLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      const now = await readFile(path, "utf8").catch(() => undefined);
      if (now === token) await unlink(path).catch(() => {});
    },
  };
}
