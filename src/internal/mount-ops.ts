/**
 * The mounts nodewasi makes and undoes as root, through mount(8) and umount(8) (Node has no mount(2)): bind
 * mounts in one call however many there are, and the unmounting of whatever is stacked on a path. Each call
 * starts a process (a few ms, tens on a loaded machine), which is why binds are made by one `mount -a` over a
 * table of them rather than one `mount --bind` each.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { isMountPoint, mountsBelow } from "./mount-info.js";
import { Code, ShimError } from "./shim-error.js";

const run = promisify(execFile);

/** One bind mount: `source` (a host path, followed if it is a symlink) shown at `target`, which exists. */
export interface BindMount {
  source: string;
  target: string;
  /** Read-only (bind, then remount read-only: util-linux does both for `bind,ro`). */
  readOnly?: boolean;
  /** With whatever is mounted below `source` (`rbind`); for directories. */
  recursive?: boolean;
}

/**
 * Makes `binds` in one mount(8) call: they are written as an fstab to `table` (a path of the caller's, outside
 * anything a guest sees) and mounted with `mount -a -T table`, in order. Throws Internal with mount's message
 * when one fails; those made before it stay mounted, for the caller to unmount (unmountAll).
 */
export async function bindMounts(binds: readonly BindMount[], table: string): Promise<void> {
  if (binds.length === 0) return;
  const lines = binds.map((b) => {
    const how = [b.recursive ? "rbind" : "bind", ...(b.readOnly ? ["ro"] : [])].join(",");
    return `${fstabPath(b.source)} ${fstabPath(b.target)} none ${how} 0 0\n`;
  });
  await writeFile(table, lines.join(""), { mode: 0o600 });
  try {
    await run("mount", ["-a", "-T", table]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ShimError(
      Code.Internal,
      `bind mounts (${binds.map((b) => `${b.source} on ${b.target}`).join(", ")}): ${(e.stderr || e.message).trim()}`,
      { cause: err },
    );
  }
}

/**
 * Unmounts every mount stacked on `path` (containerd's `mount.UnmountAll`); nothing when none is. A busy
 * mount (a dying process still inside it) is retried every 50 ms for 2 s as containerd's `unmount` retries
 * EBUSY, then detached lazily (`umount -l`). Throws Internal when it stays mounted.
 */
export async function unmountAll(path: string): Promise<void> {
  for (let i = 0; i < 64 && isMountPoint(path); i++) {
    try {
      await run("umount", i < 40 ? [path] : ["-l", path]);
    } catch (err) {
      if (!isMountPoint(path)) return;
      if (i >= 40) {
        const e = err as { stderr?: string; message: string };
        throw new ShimError(Code.Internal, `umount ${path}: ${(e.stderr || e.message).trim()}`, {
          cause: err,
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Binds the directory `dir` onto itself as a shared mount point (one mount(8) call): mounts made below it from
 * then on propagate to the mount namespaces that bound it or a folder of it (bwrap sandboxes). Throws
 * mount's error.
 */
export async function sharedBindOnItself(dir: string): Promise<void> {
  await run("mount", ["--make-shared", "--bind", dir, dir]);
}

/**
 * Unmounts every mount below the directory `dir` (a real path; `dir` itself is left), in one umount(8) call
 * when none is busy, then each that stayed as unmountAll does. Throws Internal when one stays mounted.
 */
export async function unmountBelow(dir: string): Promise<void> {
  const mounts = mountsBelow(dir);
  if (mounts.length === 0) return;
  await run("umount", mounts).catch(() => {});
  for (const m of mountsBelow(dir)) await unmountAll(m);
}

/** A path as an fstab field: space, tab, newline and backslash in octal, as libmount reads them back. */
function fstabPath(path: string): string {
  return path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}
