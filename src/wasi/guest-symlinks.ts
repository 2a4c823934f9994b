/**
 * A guest may not make, move or follow a symlink that leads out of its preopens. uvwasi (node:wasi) checks a
 * guest path lexically and then hands the host path to the kernel, which follows every symlink in it but the
 * last as it lies on disk; so a link whose target climbs with `..` leads wherever its depth lets it
 * (reference node-wasi.md §1.6). Observed on Node 20.20 without bwrap, and closed here:
 *
 * - `path_symlink`: `symlink("../../../../etc", "/y")` then `open("/y/hostname")` read the host's file. A target
 *   that is absolute or holds a `..` component is refused with EPERM; links within a directory (`lib ->
 *   lib.so.1`, `cur -> v2/data`) still work.
 * - `path_rename`, `path_link`: an image may hold `a/b/c/top -> ../../..`, harmless at its depth (the unpacker
 *   keeps it); renamed or hard-linked to `/top` it climbed out, and `/top/etc/hostname` was the host's. Moving
 *   or linking a symlink whose target climbs (or a directory holding one) to another directory is refused with
 *   EPERM; renames within a directory, and of everything else, still work. Renames and links are judged relative
 *   to preopens and to directories the guest opened with `O_DIRECTORY` (not through a last-component link);
 *   relative to any other fd they are refused (wasi-libc and Rust's std resolve paths against preopens).
 * - `path_open` without LOOKUP_SYMLINK_FOLLOW (`O_NOFOLLOW`): uvwasi does not pass O_NOFOLLOW on, so the
 *   kernel followed a last-component link from where it lies (a rootfs-top `esc -> ../../outside.txt` was
 *   read). With the flag uvwasi reads the link itself and keeps its target inside the preopen, so the flag is
 *   always set: an `O_NOFOLLOW` open follows the link as uvwasi does, inside.
 *
 * Not covered: a directory symlink leading out that was already in the rootfs or a mount when the task started
 * (containerd's snapshots and bind mounts are not checked by nodewasi; the unpacker refuses such links in the
 * images it unpacks), nor there a link with a `..` after another component (`c/L -> up/..`) once the guest
 * makes `c/up` a link of its own to a climbing `c/up2 -> ../../..` (the unpacker refuses such targets too).
 * bwrap remains the boundary for those (sandbox.ts).
 */
import { lstatSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import type { WasmInstance } from "./wasm-api.js";

/** WASI preview 1 errno `perm` (same number in `wasi_unstable`). */
const ERRNO_PERM = 63;
/** WASI preview 1 `lookupflags.symlink_follow`. */
const LOOKUP_SYMLINK_FOLLOW = 1;
/** WASI preview 1 `oflags.directory`. */
const OFLAGS_DIRECTORY = 2;

/** Whether a link with this target could point above the directory that holds it. */
export function climbsOut(target: string): boolean {
  return target.startsWith("/") || target.split("/").includes("..");
}

/**
 * Whether renaming or hard-linking the host path `from` to `to` would put a climbing symlink (`climbsOut`) in
 * another directory: `from` is such a link, or a directory with one anywhere below it. Missing paths are
 * left to the call itself to report.
 */
export function movesClimbingLink(from: string, to: string): boolean {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(from);
  } catch {
    return false;
  }
  if (!st.isSymbolicLink() && !st.isDirectory()) return false;
  if (realParent(from) === realParent(to) && realParent(from) !== undefined) return false;
  if (st.isSymbolicLink()) return climbsOut(readlinkSync(from));
  const dirs = [from];
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isSymbolicLink() && climbsOut(readlinkSync(path))) return true;
      if (e.isDirectory()) dirs.push(path);
    }
  }
  return false;
}

/** The real path of the directory holding `path` (its intermediate links followed, as the kernel will). */
function realParent(path: string): string | undefined {
  try {
    return realpathSync(dirname(path));
  } catch {
    return undefined;
  }
}

type Imports = Record<string, Record<string, unknown>>;
type Call = (...args: never[]) => unknown;

/**
 * Wraps node:wasi's import object (`wasi.getImportObject()`) with the guards above. `preopens` are the
 * guest-to-host directories given to `new WASI` (guest fds 3 upward, in order); `instance` is asked for the
 * guest's memory at call time (the import object exists first).
 */
export function guardSymlinks(
  imports: Imports,
  instance: () => WasmInstance | undefined,
  preopens: Record<string, string>,
): Imports {
  const dirs = new Map<number, { guest: string; host: string }>();
  for (const [i, [guest, host]] of Object.entries(preopens).entries()) dirs.set(3 + i, { guest, host });
  const text = (ptr: number, len: number): string | undefined => {
    const memory = instance()?.exports.memory as { buffer: ArrayBuffer } | undefined;
    return memory ? Buffer.from(memory.buffer, ptr, len).toString("utf8") : undefined;
  };
  /** The host path uvwasi makes of a guest path relative to a preopen fd (undefined: not a preopen). */
  const hostPath = (fd: number, ptr: number, len: number): string | undefined => {
    const dir = dirs.get(fd);
    const path = text(ptr, len);
    if (!dir || path === undefined) return undefined;
    if (!path.startsWith("/")) return join(dir.host, posix.normalize(path));
    const abs = posix.normalize(path);
    const under =
      dir.guest === "/" ? abs : abs.startsWith(`${dir.guest}/`) ? abs.slice(dir.guest.length) : "";
    return under === "" ? undefined : join(dir.host, under);
  };
  const moves = (fd: number, ptr: number, len: number, newFd: number, newPtr: number, newLen: number) => {
    const from = hostPath(fd, ptr, len);
    const to = hostPath(newFd, newPtr, newLen);
    return from === undefined || to === undefined || movesClimbingLink(from, to);
  };
  /**
   * Records a directory the guest opened (`O_DIRECTORY`, not through a last-component link), so that renames
   * relative to it are judged like those relative to a preopen; any other new fd is unknown.
   */
  const opened = (fd: number, ptr: number, len: number, oflags: number, fdPtr: number) => {
    const memory = instance()?.exports.memory as { buffer: ArrayBuffer } | undefined;
    if (!memory) return;
    const newFd = new DataView(memory.buffer).getUint32(fdPtr, true);
    dirs.delete(newFd);
    if ((oflags & OFLAGS_DIRECTORY) === 0) return;
    const parent = dirs.get(fd);
    const path = text(ptr, len);
    const host = hostPath(fd, ptr, len);
    if (!parent || path === undefined || host === undefined) return;
    try {
      if (!lstatSync(host).isDirectory()) return;
    } catch {
      return;
    }
    dirs.set(newFd, { guest: posix.resolve(parent.guest, path), host });
  };
  for (const ns of ["wasi_snapshot_preview1", "wasi_unstable"]) {
    const wasi = imports[ns] as Record<string, Call> | undefined;
    if (!wasi?.path_symlink) continue;
    const original = { ...wasi } as Record<string, (...args: number[]) => number>;
    wasi.path_symlink = (oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number) => {
      const target = text(oldPtr, oldLen);
      if (target === undefined || climbsOut(target)) return ERRNO_PERM;
      return original.path_symlink(oldPtr, oldLen, fd, newPtr, newLen);
    };
    wasi.path_rename = (
      fd: number,
      ptr: number,
      len: number,
      newFd: number,
      newPtr: number,
      newLen: number,
    ) =>
      moves(fd, ptr, len, newFd, newPtr, newLen)
        ? ERRNO_PERM
        : original.path_rename(fd, ptr, len, newFd, newPtr, newLen);
    wasi.path_link = (fd: number, flags: number, ptr: number, len: number, newFd: number, ...to: number[]) =>
      moves(fd, ptr, len, newFd, to[0] as number, to[1] as number)
        ? ERRNO_PERM
        : original.path_link(fd, flags, ptr, len, newFd, ...to);
    wasi.path_open = (
      fd: number,
      dirflags: number,
      ptr: number,
      len: number,
      oflags: number,
      ...rest: number[]
    ) => {
      const errno = original.path_open(fd, dirflags | LOOKUP_SYMLINK_FOLLOW, ptr, len, oflags, ...rest);
      if (errno === 0) opened(fd, ptr, len, oflags, rest[3] as number);
      return errno;
    };
    // A preopen's number stops naming it once closed or renumbered (the guest may reuse it for another dir).
    wasi.fd_close = (fd: number) => {
      const errno = original.fd_close(fd);
      if (errno === 0) dirs.delete(fd);
      return errno;
    };
    wasi.fd_renumber = (from: number, to: number) => {
      const errno = original.fd_renumber(from, to);
      if (errno !== 0) return errno;
      const dir = dirs.get(from);
      if (dir) dirs.set(to, dir);
      else dirs.delete(to);
      dirs.delete(from);
      return errno;
    };
  }
  return imports;
}
