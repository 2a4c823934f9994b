/** File system helpers shared by oci/ (the store, unpacking), shim/ and wasi/ (reading logs). */

import { accessSync, constants, type Stats, statSync } from "node:fs";
import { access, lstat } from "node:fs/promises";
import { delimiter, isAbsolute, join } from "node:path";

/** `lstat` that returns undefined for a missing path (and for a parent that is not a directory). */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
}

/** Whether `path` can be reached (a dangling link cannot); any failure counts as absent. */
export async function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * The first `name` in the absolute directories of `path` (default: PATH) that is a regular file this process
 * may execute, or undefined. Relative entries (an empty one means the working directory) are skipped: a
 * daemon runs in folders others write (a bundle), and must not run a program it happens to find there.
 */
export function executableOnPath(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not there, or not ours to run: the next directory.
    }
  }
  return undefined;
}
