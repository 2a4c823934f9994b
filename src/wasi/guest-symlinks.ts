/**
 * A guest may not make a symlink that climbs out of where it stands. uvwasi (node:wasi) refuses an absolute
 * `path_symlink` target but writes a relative one as given, and the kernel then follows it when the guest opens
 * a path through the link: `symlink("../../../../etc", "/y")` then `open("/y/hostname")` read the host's
 * /etc/hostname on Node 20.20 without bwrap, and under a warm bwrap sandbox the same trick reaches sibling
 * tasks' rootfs copies (sandbox.ts). So `path_symlink` is wrapped: a target that is absolute or holds a `..`
 * component is refused with EPERM before uvwasi sees it. Links within a directory (`lib -> lib.so.1`,
 * `cur -> v2/data`) still work.
 *
 * Not covered: a `..` link that came with the image (the unpacker keeps links that stay inside the rootfs)
 * moved by the guest with `path_rename` or `path_link` to a shallower place. bwrap remains the boundary.
 */
import type { WasmInstance } from "./wasm-api.js";

/** WASI preview 1 errno `perm` (same number in `wasi_unstable`). */
const ERRNO_PERM = 63;

/** Whether a guest-made link with this target could point above the directory that holds it. */
export function climbsOut(target: string): boolean {
  return target.startsWith("/") || target.split("/").includes("..");
}

type Imports = Record<string, Record<string, unknown>>;

/**
 * Replaces `path_symlink` in node:wasi's import object (`wasi.getImportObject()`) by one that refuses targets
 * that `climbsOut`. `instance` is asked for the guest's memory at call time (the import object exists first).
 */
export function guardSymlinks(imports: Imports, instance: () => WasmInstance | undefined): Imports {
  for (const ns of ["wasi_snapshot_preview1", "wasi_unstable"]) {
    const wasi = imports[ns];
    const original = wasi?.path_symlink as ((...args: number[]) => number) | undefined;
    if (!wasi || !original) continue;
    wasi.path_symlink = (oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number) => {
      const memory = instance()?.exports.memory as { buffer: ArrayBuffer } | undefined;
      if (!memory) return ERRNO_PERM;
      const target = Buffer.from(memory.buffer, oldPtr, oldLen).toString("utf8");
      if (climbsOut(target)) return ERRNO_PERM;
      return original(oldPtr, oldLen, fd, newPtr, newLen);
    };
  }
  return imports;
}
