/**
 * The filesystem a test sees as `/`, the same both ways: its `root` folder (none when the spec has no root)
 * with leftover `*.cleanup` files left out (SOURCE.md: delete them before a run; the suite itself stays
 * read-only), plus the module at `/NAME.wasm`, where an image keeps it and where the shim finds it. Modes are
 * normalised (0755 folders, 0644 files) so the image, and so the report, do not depend on the checkout's
 * permissions. The direct run writes the tree into a temp folder; the shim run packs it into the image.
 */
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TarEntry } from "../../src/oci/index.js";
import type { ConformanceCase } from "./suite.js";

/** One entry of the root tree; `path` is relative, with `/` separators. */
export interface TreeEntry {
  path: string;
  type: "dir" | "file" | "symlink";
  data?: Buffer;
  linkname?: string;
}

/** Where the module sits in the guest's filesystem, and so the guest's argv[0]. */
export function modulePath(c: ConformanceCase): string {
  return `/${c.name}.wasm`;
}

/** The entries of the test's root folder, parents before children, sorted by path. */
export async function rootTree(c: ConformanceCase): Promise<TreeEntry[]> {
  if (c.spec.root === null) return [];
  const out: TreeEntry[] = [];
  await collect(join(c.dir, c.spec.root), "", out);
  return out;
}

async function collect(dir: string, prefix: string, out: TreeEntry[]): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.endsWith(".cleanup")) continue;
    const path = prefix + e.name;
    const host = join(dir, e.name);
    if (e.isDirectory()) {
      out.push({ path, type: "dir" });
      await collect(host, `${path}/`, out);
    } else if (e.isSymbolicLink()) {
      out.push({ path, type: "symlink", linkname: await readlink(host) });
    } else if (e.isFile()) {
      out.push({ path, type: "file", data: await readFile(host) });
    }
  }
}

/** The tree as image tar entries (folders with a trailing `/`, as tar writes them). */
export function tarEntries(tree: readonly TreeEntry[]): TarEntry[] {
  return tree.map((e) =>
    e.type === "dir"
      ? { path: `${e.path}/`, type: "dir", mode: 0o755 }
      : e.type === "symlink"
        ? { path: e.path, type: "symlink", linkname: e.linkname ?? "" }
        : { path: e.path, data: e.data ?? Buffer.alloc(0), mode: 0o644 },
  );
}

/** Writes the tree and the module into `dir` (which must exist), as the shim's rootfs will hold them. */
export async function writeTree(dir: string, c: ConformanceCase, tree: readonly TreeEntry[]): Promise<void> {
  for (const e of tree) {
    const at = join(dir, e.path);
    if (e.type === "dir") await mkdir(at, { mode: 0o755 });
    else if (e.type === "file") await writeFile(at, e.data ?? Buffer.alloc(0), { mode: 0o644 });
    else await symlink(e.linkname ?? "", at);
  }
  await writeFile(join(dir, modulePath(c)), await readFile(c.module), { mode: 0o755 });
}
