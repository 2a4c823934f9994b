/**
 * Small tmpfs mounts for disk-full tests: a store or a task folder that runs out of space (or of inodes) where
 * the test says. Needs root (CAP_SYS_ADMIN); `mountSkipReason()` says why not, for `describe`'s `skip`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why a tmpfs cannot be mounted here (not root, no CAP_SYS_ADMIN), or undefined when it can. */
export function mountSkipReason(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "nodewasi-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { stdio: "pipe" });
    execFileSync("umount", [dir]);
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mounts a tmpfs at `path` (made if missing) with `options` (`size=2m,mode=0700`, `nr_inodes=2`). */
export function mountTmpfs(path: string, options: string): void {
  mkdirSync(path, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", path]);
}

/** Unmounts `path` (lazily: a process may still hold a file there). */
export function unmount(path: string): void {
  execFileSync("umount", ["-l", path]);
}
