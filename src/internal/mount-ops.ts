/**
 * The mounts nodewasi makes and undoes as root: bind mounts, overlays, and the unmounting of whatever is stacked
 * on a path. Made through the process's mount helper (mount-syscalls.ts: mount(2) and umount2(2) without a
 * process per call) when it can run, else through mount(8) and umount(8) (Node has no mount(2)), where each call
 * starts a process (a few ms, tens on a loaded machine): binds are then made by one `mount -a` over a table of
 * them rather than one `mount --bind` each.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { isMountPoint, mountsBelow } from "./mount-info.js";
import { MNT_DETACH, MS, mountSyscalls } from "./mount-syscalls.js";
import { Code, ShimError } from "./shim-error.js";

const run = promisify(execFile);

/** One bind mount: `source` (a host path, followed if it is a symlink) shown at `target`, which exists. */
export interface BindMount {
  source: string;
  target: string;
  /** Read-only (bind, then remount read-only, nosuid, nodev and noexec). */
  readOnly?: boolean;
  /** With whatever is mounted below `source` (`rbind`); for directories. */
  recursive?: boolean;
}

/**
 * Makes `binds`, in order. Without the mount helper they are written as an fstab to `table` (a path of the
 * caller's, outside anything a guest sees) and mounted with one `mount -a -T table`. Throws Internal naming the
 * binds and the error when one fails; those made before it stay mounted, for the caller to unmount
 * (unmountBelow).
 */
export async function bindMounts(binds: readonly BindMount[], table: string): Promise<void> {
  if (binds.length === 0) return;
  const failed = (err: unknown) => {
    const e = err as { stderr?: string; message: string };
    return new ShimError(
      Code.Internal,
      `bind mounts (${binds.map((b) => `${b.source} on ${b.target}`).join(", ")}): ${(e.stderr || e.message).trim()}`,
      { cause: err },
    );
  };
  const helper = await mountSyscalls();
  if (helper) {
    for (const b of binds) {
      try {
        await helper.mount(b.source, b.target, undefined, MS.BIND | (b.recursive ? MS.REC : 0));
        if (b.readOnly) {
          const ro = MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;
          await helper.mount(undefined, b.target, undefined, ro);
        }
      } catch (err) {
        throw failed(new Error(`${b.source} on ${b.target}: ${(err as Error).message}`, { cause: err }));
      }
    }
    return;
  }
  const lines = binds.map((b) => {
    const how = [b.recursive ? "rbind" : "bind", ...(b.readOnly ? ["ro,nosuid,nodev,noexec"] : [])].join(",");
    return `${fstabPath(b.source)} ${fstabPath(b.target)} none ${how} 0 0\n`;
  });
  await writeFile(table, lines.join(""), { mode: 0o600 });
  try {
    await run("mount", ["-a", "-T", table]);
  } catch (err) {
    throw failed(err);
  }
}

/**
 * Mounts an overlay with the read-only layer `lower` and the writable `upper` (and its `work` folder, on the
 * same file system) on `target`. None of the paths may hold `,`, `:` or `\` (overlayfs's option syntax).
 * Throws Internal with the kernel's or mount(8)'s message.
 */
export async function mountOverlay(
  lower: string,
  upper: string,
  work: string,
  target: string,
): Promise<void> {
  const options = `lowerdir=${lower},upperdir=${upper},workdir=${work}`;
  const helper = await mountSyscalls();
  try {
    if (helper) await helper.mount("overlay", target, "overlay", 0, options);
    else await run("mount", ["-t", "overlay", "overlay", "-o", options, target]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ShimError(Code.Internal, `mount -t overlay on ${target}: ${(e.stderr || e.message).trim()}`, {
      cause: err,
    });
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
      await unmountOnce(path, i >= 40);
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
 * Binds the directory `dir` onto itself as a shared mount point: mounts made below it from then on propagate
 * to the mount namespaces that bound it or a folder of it (bwrap sandboxes). Throws the mount's error.
 */
export async function sharedBindOnItself(dir: string): Promise<void> {
  const helper = await mountSyscalls();
  if (!helper) {
    await run("mount", ["--make-shared", "--bind", dir, dir]);
    return;
  }
  await helper.mount(dir, dir, undefined, MS.BIND);
  await helper.mount("none", dir, undefined, MS.SHARED);
}

/**
 * Unmounts every mount below the directory `dir` (a real path; `dir` itself is left): the deepest first, in one
 * umount(8) call without the helper, then each that stayed as unmountAll does. Throws Internal when one
 * stays mounted.
 */
export async function unmountBelow(dir: string): Promise<void> {
  const mounts = mountsBelow(dir);
  if (mounts.length === 0) return;
  const helper = await mountSyscalls();
  if (helper) {
    for (const m of mounts) await helper.umount(m).catch(() => {});
  } else {
    await run("umount", mounts).catch(() => {});
  }
  for (const m of mountsBelow(dir)) await unmountAll(m);
}

/** One umount2(2) (or umount(8)) of `path`; `lazy` detaches it (`umount -l`). */
async function unmountOnce(path: string, lazy: boolean): Promise<void> {
  const helper = await mountSyscalls();
  if (helper) await helper.umount(path, lazy ? MNT_DETACH : 0);
  else await run("umount", lazy ? ["-l", path] : [path]);
}

/** A path as an fstab field: space, tab, newline and backslash in octal, as libmount reads them back. */
function fstabPath(path: string): string {
  return path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}
