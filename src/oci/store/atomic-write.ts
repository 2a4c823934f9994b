/**
 * Files of the content store that are replaced whole (index.json, pull records, small blobs): written to a
 * temporary name beside them, flushed to disk, then renamed over the old one, and the rename made durable by
 * syncing the folder. A reader sees the old file or the new one, never a torn one, also after a crash. The
 * temporary name `NAME.tmp-<pid>-<random>` says which process writes it, so leftovers of a dead process can be
 * told from a write in progress (store-leftovers.ts).
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** A fresh temporary name beside `path`, owned by this process. */
export function tempPath(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/**
 * Replaces `path` with `data` atomically and, unless `durable` is false, durably (mode 0600: the store may
 * hold private images). `durable: false` keeps the atomic rename and skips both syncs, for files that mean
 * nothing after a crash (a lease names a process that a crash ends): a reader still never sees a torn file.
 */
export async function atomicWrite(
  path: string,
  data: Uint8Array | string,
  opts: { durable?: boolean } = {},
): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = tempPath(path);
  try {
    await writeFile(tmp, data, { mode: 0o600, flush: durable });
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  if (durable) await syncDir(dirname(path));
}

/** Makes a rename durable (POSIX: the directory entry is only on disk after the directory is synced). */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r").catch(() => undefined);
  if (fh === undefined) return;
  try {
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await fh.close();
  }
}

/**
 * atomicWrite (durable), unless `path` already holds exactly `text`; resolves whether it wrote. A pull of an
 * image the store already has computes the same index.json, backup and pull record as the pull before it,
 * and each durable replace costs two fsyncs and a rename for nothing. A file that reads back equal is the one
 * an earlier durable write left (or that write's own page cache, in the moment before its folder sync, which
 * the same crash would lose either way).
 */
export async function atomicWriteIfChanged(path: string, text: string): Promise<boolean> {
  const now = await readFile(path, "utf8").catch(() => undefined);
  if (now === text) return false;
  await atomicWrite(path, text);
  return true;
}
