/**
 * A `file://` stdio target with a size cap and rotation (issue 10 item 7), as Docker's json-file and local log
 * drivers rotate with `--log-opt max-size=10m --log-opt max-file=3`: `PATH` is written until it holds
 * `maxSize` bytes, then `PATH.1` becomes `PATH.2` and so on (the oldest, `PATH.<maxFiles-1>`, is dropped),
 * `PATH` becomes `PATH.1` and a new `PATH` is started. The guest's output on disk never exceeds
 * `maxSize * maxFiles` bytes. Readers follow it with log-reader.ts.
 *
 * Where it runs: in the runner, on the guest's thread, inside the guest's own `fd_write` (rotatingWrites). The
 * guest's writes go to the file synchronously, as they do without rotation: nothing sits between the guest and
 * the disk, so a flooding guest is slowed by the disk only, no process buffers its output (the shim daemon
 * never sees it, so it neither grows nor loses output when busy), and no logging process per task costs a
 * Node boot. The alternatives: a FIFO relayed into the files by the daemon (what dockerd does for json-file)
 * puts every byte of every guest through the daemon's one event loop, which then needs backpressure per task
 * and stalls or drops output when it is busy or gone; a logger process per task measured 40 MB of memory and
 * 0.45-0.6 s of Node boot each on the 2-core test machine under load (`node -e` under /usr/bin/time).
 *
 * Files are created with O_EXCL | O_NOFOLLOW: a symlink planted at `PATH` between two rotations is removed, not
 * followed (the runner may be root). A `PATH` deleted while the guest writes is simply started again at the
 * next rotation; what was written to the deleted file counts against the cap all the same.
 */
import { closeSync, constants, fstatSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { invalidArgument, parseByteSize } from "../internal/index.js";

/** The cap of a rotating log: bytes per file, and files kept (the one written included). */
export interface LogRotation {
  maxSize: number;
  maxFiles: number;
}

/** Docker's `--log-opt` keys this cap understands (json-file and local drivers). */
export const LOG_OPTS = ["max-size", "max-file"] as const;

/**
 * The cap that Docker-style log options ask for, or undefined for none (`max-size` absent or `-1`): `max-size`
 * a size (`10m`, `512k`, bytes; at least 1 byte), `max-file` a whole number of files, 1 or more (default 1, as
 * Docker's json-file). Throws InvalidArgument naming `what` (`--log-opt`, a stdio URI) for any other key or
 * value.
 */
export function parseLogOptions(opts: Iterable<[string, string]>, what: string): LogRotation | undefined {
  let maxSize: number | undefined;
  let maxFiles = 1;
  for (const [key, value] of opts) {
    if (key === "max-size") {
      if (value.trim() === "-1") {
        maxSize = undefined;
        continue;
      }
      const n = parseByteSize(value);
      if (n === undefined || n < 1) {
        throw invalidArgument(
          `${what} max-size=${value}: not a size; give bytes or a number with k, m or g, e.g. 10m (-1: no cap)`,
        );
      }
      maxSize = n;
    } else if (key === "max-file") {
      const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
      if (!(n >= 1))
        throw invalidArgument(`${what} max-file=${value}: not a whole number of files, 1 or more`);
      maxFiles = n;
    } else {
      throw invalidArgument(
        `${what} ${key}: unknown log option; nodewasi takes ${LOG_OPTS.join(" and ")}, as Docker's json-file driver`,
      );
    }
  }
  return maxSize === undefined ? undefined : { maxSize, maxFiles };
}

/** The name of the `n`th rotated file of the log at `path` (`n` = 0 is the one being written). */
export function rotatedPath(path: string, n: number): string {
  return n === 0 ? path : `${path}.${n}`;
}

const CREATE = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

/** One rotating log, written synchronously. Not for several writers: each would rotate on its own count. */
export class RotatingLog {
  /** The fd of the file first opened; it stays open (for node:wasi's own fd table) until close(). */
  readonly fd: number;
  #current: number;
  #size: number;

  constructor(
    readonly path: string,
    readonly rotation: LogRotation,
  ) {
    this.fd = openSync(path, CREATE, 0o644);
    this.#current = this.fd;
    this.#size = fstatSync(this.fd).size;
  }

  /**
   * Appends all of `bytes`, rotating whenever the file reaches maxSize (a write is split there). Returns the
   * bytes written; throws the file system's error (ENOSPC...) only when nothing could be written.
   */
  write(bytes: Uint8Array): number {
    const { maxSize } = this.rotation;
    let done = 0;
    while (done < bytes.length) {
      if (this.#size >= maxSize) this.#rotate();
      const n = Math.min(bytes.length - done, maxSize - this.#size);
      let wrote: number;
      try {
        wrote = writeSync(this.#current, bytes, done, n);
      } catch (err) {
        if (done > 0) return done;
        throw err;
      }
      done += wrote;
      this.#size += wrote;
    }
    return done;
  }

  /** Closes the file being written (the first fd stays with its owner). */
  close(): void {
    if (this.#current !== this.fd) closeSync(this.#current);
    this.#current = this.fd;
  }

  #rotate(): void {
    const { path, rotation } = this;
    if (this.#current !== this.fd) closeSync(this.#current);
    // Oldest first, so a reader that finds a file at PATH.n knows the one after it is at PATH.(n-1).
    for (let n = rotation.maxFiles - 1; n >= 1; n--) {
      try {
        renameSync(rotatedPath(path, n - 1), rotatedPath(path, n));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    if (rotation.maxFiles === 1) unlinkIfThere(path);
    try {
      this.#current = openSync(path, CREATE | constants.O_EXCL, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // Something was put there since the rename (a symlink?): replaced, never followed.
      unlinkIfThere(path);
      this.#current = openSync(path, CREATE | constants.O_EXCL, 0o644);
    }
    this.#size = 0;
  }
}

function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

type Imports = Record<string, Record<string, unknown>>;
type Call = (...args: number[]) => number;

/** WASI preview 1 errno values (same numbers in `wasi_unstable`). */
const ERRNO = { fbig: 22, inval: 28, io: 29, nospc: 51, dquot: 19, spipe: 70 } as const;

/**
 * Wraps node:wasi's import object so that the guest's writes to `logs` (guest fd -> its log: stdout 1, stderr
 * 2) go through their RotatingLog. node:wasi still holds each log's first fd for everything else (fd_fdstat_get
 * says a regular file); `fd_pwrite` appends as a write to an O_APPEND file does on Linux, and `fd_allocate` and
 * `fd_filestat_set_size`, which would grow or truncate a file outside the cap, fail as they do on a pipe. A
 * guest fd that is closed or renumbered over stops naming its log; one renumbered names it under its new
 * number. `instance` is asked for the guest's memory at call time.
 */
export function rotatingWrites(
  imports: Imports,
  instance: () => { exports: Record<string, unknown> } | undefined,
  logs: Map<number, RotatingLog>,
): Imports {
  const gather = (iovs: number, count: number): { view: DataView; bytes: Uint8Array[] } | undefined => {
    const memory = instance()?.exports.memory as { buffer: ArrayBuffer } | undefined;
    if (!memory) return undefined;
    const view = new DataView(memory.buffer);
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const ptr = view.getUint32(iovs + 8 * i, true);
      const len = view.getUint32(iovs + 8 * i + 4, true);
      if (ptr + len > memory.buffer.byteLength) return undefined;
      bytes.push(new Uint8Array(memory.buffer, ptr, len));
    }
    return { view, bytes };
  };
  const write = (log: RotatingLog, iovs: number, count: number, nwritten: number): number => {
    const g = gather(iovs, count);
    if (!g) return ERRNO.inval;
    let total = 0;
    try {
      for (const b of g.bytes) {
        const n = log.write(b);
        total += n;
        if (n < b.length) break;
      }
    } catch (err) {
      if (total === 0) return errnoOf(err);
    }
    g.view.setUint32(nwritten, total, true);
    return 0;
  };
  for (const ns of ["wasi_snapshot_preview1", "wasi_unstable"]) {
    const wasi = imports[ns] as Record<string, Call> | undefined;
    if (!wasi?.fd_write) continue;
    const original = { ...wasi };
    wasi.fd_write = (fd, iovs, count, nwritten) => {
      const log = logs.get(fd);
      return log ? write(log, iovs, count, nwritten) : original.fd_write!(fd, iovs, count, nwritten);
    };
    // (fd, iovs, count, offset: bigint, nwritten): the offset is ignored, as Linux does for O_APPEND.
    wasi.fd_pwrite = (fd, iovs, count, ...rest) => {
      const log = logs.get(fd);
      return log ? write(log, iovs, count, rest[1]!) : original.fd_pwrite!(fd, iovs, count, ...rest);
    };
    wasi.fd_allocate = (fd, ...rest) => (logs.has(fd) ? ERRNO.spipe : original.fd_allocate!(fd, ...rest));
    wasi.fd_filestat_set_size = (fd, ...rest) =>
      logs.has(fd) ? ERRNO.inval : original.fd_filestat_set_size!(fd, ...rest);
    wasi.fd_close = (fd) => {
      const errno = original.fd_close!(fd);
      if (errno === 0) logs.delete(fd);
      return errno;
    };
    wasi.fd_renumber = (from, to) => {
      const errno = original.fd_renumber!(from, to);
      if (errno !== 0) return errno;
      const log = logs.get(from);
      if (log) logs.set(to, log);
      else logs.delete(to);
      logs.delete(from);
      return errno;
    };
  }
  return imports;
}

/** The WASI errno for a failed write. */
function errnoOf(err: unknown): number {
  switch ((err as NodeJS.ErrnoException).code) {
    case "ENOSPC":
      return ERRNO.nospc;
    case "EDQUOT":
      return ERRNO.dquot;
    case "EFBIG":
      return ERRNO.fbig;
    default:
      return ERRNO.io;
  }
}
