/**
 * Reads a rotating log (rotating-log.ts) as one stream: its rotated files oldest first, then the one being
 * written, and with `live`, what is appended afterwards, across rotations, however fast they come. `nodewasi
 * logs [-f]` prints logs this way.
 *
 * Files are followed by inode, not by name: a rotation renames the file being read from `PATH` to `PATH.1`,
 * and the reader keeps its fd, reads it to its end (the writer has moved on) and then opens the file that came
 * after it. The writer renames oldest first, so while the file just read is still at `PATH.n`, the one after it
 * is at `PATH.(n-1)` (`PATH` for n = 1); the reader opens that and checks that the file it left is still at
 * `PATH.n` afterwards, else the names moved meanwhile and it looks again. A reader too slow for the writer
 * (a file dropped at the end of the rotation before it was opened) goes on with the oldest file newer than
 * the one it left: output is skipped then, never repeated, and never out of order. Nor are two lines made one:
 * the writer splits a write at the size cap, so a file may end inside a line, and the file taken after a skip
 * starts inside some later line (a loaded `logs -f` printed 000065233 after line 65944: the "000065" that began
 * line 65945, then the "233" that ended line 78233, 30 files later). So when the file left ended inside a
 * line, the reader ends that line with a newline before going on. It cannot tell a skip from a dropped file's
 * direct successor: when it took that successor, a line the rotation cut is printed in two, with nothing lost.
 * Files are opened with O_NOFOLLOW, so a symlink planted among them is not read through.
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, open, readdir, rm } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { lstatOrUndefined } from "../internal/index.js";
import { rotatedPath } from "./rotating-log.js";

export interface CopyLogOptions {
  /**
   * Keep following while this resolves true (asked between reads, e.g. "the task still runs"); what was
   * written until it said false is copied too. Absent: copy what is there now and stop.
   */
  live?: () => Promise<boolean>;
  /** How long to wait when there is nothing new (default 200 ms). */
  pollMs?: number;
}

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/** Whether the log at `path` has any file: `path` itself or a rotated one. */
export async function logExists(path: string): Promise<boolean> {
  return (await lstatOrUndefined(path)) !== undefined || (await rotatedNumbers(path)).length > 0;
}

/** Removes the log at `path` and its rotated files; resolves whether there was any. */
export async function removeLog(path: string): Promise<boolean> {
  const files = [path, ...(await rotatedNumbers(path)).map((n) => rotatedPath(path, n))];
  let any = false;
  for (const f of files)
    any =
      (await rm(f).then(
        () => true,
        () => false,
      )) || any;
  return any;
}

/** Copies the log at `path` to `write` (which resolves once its bytes may be overwritten), as described above. */
export async function copyLog(path: string, write: (b: Buffer) => Promise<void>, opts: CopyLogOptions = {}) {
  const buf = Buffer.alloc(CHUNK);
  /** Whether what was written so far ends a line (or is nothing). */
  let lineEnded = true;
  const drain = async (f: OpenFile) => {
    for (;;) {
      const { bytesRead } = await f.fh.read(buf, 0, CHUNK, f.offset);
      if (bytesRead === 0) return;
      f.offset += bytesRead;
      lineEnded = buf[bytesRead - 1] === NEWLINE;
      await write(buf.subarray(0, bytesRead));
    }
  };
  const files = await openAll(path);
  let cur = files.pop();
  try {
    for (const f of files) {
      await drain(f);
      await f.fh.close();
    }
    if (!cur) return;
    await drain(cur);
    if (!opts.live) return;
    for (;;) {
      const alive = await opts.live();
      await drain(cur);
      const next = await after(path, cur);
      if (next) {
        await drain(cur);
        await cur.fh.close();
        if (next.afterSkip && !lineEnded) {
          lineEnded = true;
          await write(Buffer.from("\n"));
        }
        cur = next;
        continue;
      }
      if (!alive) return;
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
    }
  } finally {
    await cur?.fh.close();
    for (const f of files) await f.fh.close().catch(() => {});
  }
}

interface OpenFile {
  fh: FileHandle;
  st: Stats;
  offset: number;
  /** Taken after a dropped file: output may have been skipped before it, so it may start inside a line. */
  afterSkip?: true;
}

/**
 * The log's files, opened, oldest first. Opened one by one, newest first, they are in order only if no
 * rotation came meanwhile: two rotations put a newer file (made meanwhile, now at `PATH.1`) before the older
 * ones (a loaded `logs -f` printed line 95435, then 95434). So once all are open their names are checked
 * again, and when any moved they are opened again. Nor may a name be missing between two opened ones: the
 * names come from a listing read before the files are opened, and a name a rotation had vacated when it was
 * read (`PATH.2` between its `PATH.2 -> PATH.3` and `PATH.1 -> PATH.2`) holds a file again once the rotation
 * is done, one that the files opened around it skip (a loaded `logs -f` went from line 259685 to 260096, a
 * whole 4 KiB file later). Files at `PATH`, `PATH.1`... `PATH.k`, none missing, each at its name from its open
 * to its check, were all there at once (after the last open, before the first check), so they follow each
 * other. A writer that does not let that happen in 50 tries gets the newest such run of them (or its newest
 * file, when its names never held still): output is skipped, never out of order.
 */
async function openAll(path: string): Promise<OpenFile[]> {
  for (let attempt = 1; ; attempt++) {
    const opened: { n: number; file: OpenFile }[] = [];
    for (const n of [0, ...(await rotatedNumbers(path))]) {
      const file = await openFile(rotatedPath(path, n));
      if (file) opened.push({ n, file });
    }
    let moved = false;
    for (const o of opened) moved ||= (await lstatOrUndefined(rotatedPath(path, o.n)))?.ino !== o.file.st.ino;
    // The numbers rise, so those equal to their index are the run 0, 1... k up to the first one missing.
    const run = moved ? [] : opened.filter((o, i) => o.n === i);
    const whole = run.length > 0 && run.length === opened.length;
    const keep = whole ? run : attempt === 50 ? (run.length ? run : opened.slice(0, 1)) : [];
    for (const { file } of opened) if (!keep.some((k) => k.file === file)) await file.fh.close();
    if (keep.length) return keep.map((k) => k.file).reverse();
    if (opened.length === 0) return [];
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * The file that came after `cur` in the log at `path`, opened; undefined while `cur` is still the one being
 * written (or was deleted and nothing newer exists yet). Marked `afterSkip` when `cur` had been dropped.
 */
async function after(path: string, cur: OpenFile): Promise<OpenFile | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const head = await lstatOrUndefined(path);
    if (head?.ino === cur.st.ino) return undefined;
    const numbers = await rotatedNumbers(path);
    let at: number | undefined;
    for (const n of numbers) if ((await lstatOrUndefined(rotatedPath(path, n)))?.ino === cur.st.ino) at = n;
    if (at !== undefined) {
      const next = await openFile(rotatedPath(path, at - 1));
      const still = (await lstatOrUndefined(rotatedPath(path, at)))?.ino === cur.st.ino;
      if (next && still) return next;
      await next?.fh.close();
    } else if ((await cur.fh.stat()).nlink === 0) {
      // Dropped off the end of the rotation (replaced by the file after it), or deleted: every file left was
      // written after it, so the oldest of them comes next. Not chosen by time: mtimes are as coarse as the
      // kernel's tick, so an older file can carry the same one, and a clock stepped back gives a newer file
      // an older one.
      for (const n of [...numbers.reverse(), 0]) {
        const f = await openFile(rotatedPath(path, n));
        if (!f) continue;
        if (f.st.ino !== cur.st.ino) return { ...f, afterSkip: true };
        await f.fh.close();
      }
      if (head === undefined) return undefined;
    }
    // The names were moving (still linked, it was renamed past the names just read): look again.
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

/** Opens `p` for reading without following a symlink; undefined when it is not there (or is a link). */
async function openFile(p: string): Promise<OpenFile | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ELOOP") return undefined;
    throw err;
  }
  return { fh, st: await fh.stat(), offset: 0 };
}

/** The numbers n of the rotated files `path.n` there are now, ascending. */
async function rotatedNumbers(path: string): Promise<number[]> {
  const base = `${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names
    .filter((f) => f.startsWith(base) && /^[1-9]\d*$/.test(f.slice(base.length)))
    .map((f) => Number(f.slice(base.length)))
    .sort((a, b) => a - b);
}
