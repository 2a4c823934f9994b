/** File system helpers shared by oci/ (the store, unpacking), shim/ and wasi/ (reading logs). */

import type { Stats } from "node:fs";
import { access, lstat } from "node:fs/promises";

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
