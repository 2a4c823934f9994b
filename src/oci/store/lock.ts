/**
 * Lock files between processes sharing one content store (two `nodewasi pull` of the same image, a shim and
 * a CLI), and anything else that needs "one holder at a time" across processes.
 *
 * A lock is a file created with `O_EXCL`. It names its holder so that it cannot outlive it: the pid, the
 * process's start time and the boot id (process-identity.ts), so a pid reused by an unrelated process (after
 * a crash or a reboot) does not keep it. A lock of an older format that names only a pid is judged by the
 * file's age: a process that started after the lock was written did not write it. A stale lock is stolen.
 *
 * A holder renews its lock (touches the file) every `LOCK_RENEW_MS` while it holds it. A waiter polls (50 ms,
 * as containerd's content store retries an ingest ref held elsewhere; advisory `flock` is not in Node's
 * standard library), reports who it waits for (`onWait`), and never waits for ever: a live holder that has not
 * renewed its lock for `stuckAfterMs` (stopped with SIGSTOP, or hung) fails the wait with `FailedPrecondition`
 * naming it, and `timeoutMs` bounds the whole wait (`DeadlineExceeded`). A holder that is merely slow (a long
 * download) keeps renewing and is waited for.
 *
 * File format: one line, `PID {"token":...,"start":...,"boot":...,"since":...}`, so a reader that parses only a
 * leading pid (nodewasi before this format) still finds it.
 *
 * Uses: short critical sections (index.json), a download's whole life (ingest), a pull's lease, and a lock held
 * for a process's life ("one daemon per root"): `acquireLock(path, { timeoutMs: 0 })` fails at once with
 * `DeadlineExceeded` when a live process holds it (`readHolder` and `describeHolder` say who, for the message),
 * and takes over at once a lock whose holder is gone, also after a reboot or a pid reuse.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import {
  Code,
  isSameProcess,
  mayBeOwner,
  type ProcessIdentity,
  processCommand,
  ShimError,
  selfIdentity,
  sleep,
} from "../../internal/index.js";

/** How often a waiter looks again at a lock held by a live process. */
export const LOCK_POLL_MS = 50;
/** How often a holder renews (touches) its lock file. */
export const LOCK_RENEW_MS = 5000;
/** A live holder that has not renewed its lock for this long is stuck (default of `stuckAfterMs`). */
export const LOCK_STUCK_MS = 60_000;
/** A waiter first reports the holder after this long (quick waits stay quiet), then every `LOCK_REPORT_EVERY_MS`. */
export const LOCK_REPORT_AFTER_MS = 1000;
export const LOCK_REPORT_EVERY_MS = 30_000;
/** How long a lock file may stay empty (being written) before it counts as abandoned. */
export const EMPTY_LOCK_GRACE_MS = 2000;

/** A wait in progress, as `onWait` is told of it. */
export interface LockWait {
  path: string;
  /** What the lock guards (`LockOptions.what`). */
  what: string;
  holder: LockHolder;
  /** How long this caller has waited so far. */
  waitedMs: number;
}

/** How `acquireLock` waits. */
export interface LockOptions {
  signal?: AbortSignal;
  /** Checked while waiting: when it returns true the lock is no longer needed and `acquire` returns undefined. */
  until?: () => Promise<boolean>;
  /** What the lock guards, for messages (`the index of the store /var/lib/nodewasi`); default: its path. */
  what?: string;
  /** Told who holds the lock, once the wait passes `LOCK_REPORT_AFTER_MS` and then every `LOCK_REPORT_EVERY_MS`. */
  onWait?: (wait: LockWait) => void;
  /** The longest wait for a live holder, then `DeadlineExceeded`; default: as long as the holder renews it. */
  timeoutMs?: number;
  /** A live holder that has not renewed the lock for this long fails the wait (`FailedPrecondition`). */
  stuckAfterMs?: number;
}

/** A held lock: renewed until `release`, which is idempotent and removes the file only while it is still ours. */
export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

/** What a lock file says about its holder. */
export interface LockHolder extends ProcessIdentity {
  /** The holder's pid; 0 when the file is empty or unreadable (being written, or garbage). */
  pid: number;
  /** When the lock was taken (ms since the epoch): recorded in the file, else the file's mtime. */
  sinceMs: number;
  /** When the holder last renewed it (the file's mtime). */
  renewedMs: number;
  /** Whether the holder renews its lock (this format); a lock of an older format is never renewed. */
  renews: boolean;
  /** The file's bytes, to tell this lock from a later one at the same path. */
  content: string;
}

/**
 * Takes the lock file at `path`, waiting while a live process holds it (see the file header for how a wait
 * ends). Returns undefined when `until` became true first. Rejects with the signal's reason when aborted.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<HeldLock | undefined> {
  const me = selfIdentity();
  const token = randomBytes(8).toString("hex");
  const since = Date.now();
  const content = `${me.pid} ${JSON.stringify({ token, start: me.start, boot: me.boot, since })}\n`;
  const began = Date.now();
  let nextReport = began + LOCK_REPORT_AFTER_MS;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (opts.until && (await opts.until())) return undefined;
    try {
      const fh = await open(path, "wx", 0o600);
      try {
        await fh.writeFile(content);
      } catch (err) {
        await fh.close();
        await unlink(path).catch(() => {});
        throw err;
      }
      return heldLock(path, content, fh);
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
    if (holder === undefined) continue; // released in between
    if (isStale(holder)) {
      await breakStaleLock(path, holder.content);
      continue;
    }
    const now = Date.now();
    const what = opts.what ?? path;
    const wait = { path, what, holder, waitedMs: now - began };
    const stuckAfter = opts.stuckAfterMs ?? LOCK_STUCK_MS;
    if (holder.pid !== 0 && now - holder.renewedMs > stuckAfter) throw stuckError(wait, now);
    if (opts.timeoutMs !== undefined && wait.waitedMs >= opts.timeoutMs) throw timeoutError(wait);
    if (opts.onWait && now >= nextReport) {
      nextReport = now + LOCK_REPORT_EVERY_MS;
      opts.onWait(wait);
    }
    await sleep(LOCK_POLL_MS, opts.signal);
  }
}

/** The holder recorded in a lock file, or undefined when there is no lock. */
export async function readHolder(path: string): Promise<LockHolder | undefined> {
  let content: string;
  let mtimeMs: number;
  try {
    [content, { mtimeMs }] = await Promise.all([readFile(path, "utf8"), stat(path)]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
  const parsed = Number.parseInt(content, 10);
  const pid = Number.isSafeInteger(parsed) && parsed > 0 ? parsed : 0;
  const holder: LockHolder = { pid, sinceMs: mtimeMs, renewedMs: mtimeMs, renews: false, content };
  const space = content.indexOf(" ");
  if (pid === 0 || space < 0) return holder;
  try {
    const meta = JSON.parse(content.slice(space + 1)) as Record<string, unknown>;
    if (typeof meta.token !== "string") return holder;
    holder.renews = true;
    if (typeof meta.since === "number" && Number.isFinite(meta.since)) holder.sinceMs = meta.since;
    if (typeof meta.start === "number" && Number.isSafeInteger(meta.start)) holder.start = meta.start;
    if (typeof meta.boot === "string" && meta.boot) holder.boot = meta.boot;
  } catch {
    // `PID TOKEN` of the older format: the pid alone.
  }
  return holder;
}

/**
 * Whether a lock is stale, i.e. its holder is gone: a holder named by pid, start time and boot that is no longer
 * that process; a holder named by pid alone that is dead or started after the lock was written; or an empty
 * lock older than `EMPTY_LOCK_GRACE_MS` (a process died between creating the file and writing it).
 */
export function isStale(holder: LockHolder): boolean {
  if (holder.pid === 0) return Date.now() - holder.renewedMs > EMPTY_LOCK_GRACE_MS;
  if (holder.start !== undefined) return !isSameProcess(holder);
  return !mayBeOwner(holder.pid, holder.sinceMs);
}

/** `pid 123 (node bin/nodewasi pull x) since 2024-05-01T10:00:00.000Z (2 days ago)`, for messages. */
export function describeHolder(holder: LockHolder, now = Date.now()): string {
  const command = holder.pid ? processCommand(holder.pid) : undefined;
  const who = holder.pid
    ? `pid ${holder.pid}${command ? ` (${command})` : ""}`
    : "a process that is starting";
  return `${who} since ${new Date(holder.sinceMs).toISOString()} (${ago(now - holder.sinceMs)})`;
}

/** `5 s ago`, `3 min ago`, `2 days ago`. */
function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

function stuckError(w: LockWait, now: number): ShimError {
  const quiet = Math.round((now - w.holder.renewedMs) / 1000);
  return new ShimError(
    Code.FailedPrecondition,
    `${w.what} is locked by ${describeHolder(w.holder, now)}, which is running but has not renewed the lock ` +
      `for ${quiet} s: it is stopped or hung (lock file ${w.path})`,
    {
      details: {
        lock: w.path,
        pid: w.holder.pid,
        hint: `end that process (kill ${w.holder.pid}) or let it continue (kill -CONT ${w.holder.pid}), then try again`,
      },
    },
  );
}

function timeoutError(w: LockWait): ShimError {
  return new ShimError(
    Code.DeadlineExceeded,
    `gave up after ${Math.round(w.waitedMs / 1000)} s waiting for ${w.what}, locked by ${describeHolder(w.holder)} (lock file ${w.path})`,
    {
      temporary: true,
      details: { lock: w.path, pid: w.holder.pid, hint: "try again once that process has finished" },
    },
  );
}

/**
 * Removes a stale lock (whose file held `staleContent`) without ever removing a fresh one taken meanwhile by
 * another process: the file is moved aside first and checked; if it turns out to be someone else's new lock, it
 * is put back with `link`, which fails rather than overwrite a lock taken in between.
 */
export async function breakStaleLock(path: string, staleContent: string): Promise<void> {
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

function heldLock(path: string, content: string, fh: import("node:fs/promises").FileHandle): HeldLock {
  let released = false;
  // Renewal touches our own inode through the open handle, never a lock someone else put at the path.
  const renew = setInterval(() => {
    const now = new Date();
    fh.utimes(now, now).catch(() => {});
  }, LOCK_RENEW_MS);
  renew.unref();
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      clearInterval(renew);
      await fh.close().catch(() => {});
      const now = await readFile(path, "utf8").catch(() => undefined);
      if (now === content) await unlink(path).catch(() => {});
    },
  };
}
