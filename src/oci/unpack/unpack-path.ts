/**
 * Path rules for unpacking untrusted tar entries (DESIGN decision 13). Names are checked as data before the
 * file system is touched, and every parent is then checked with `lstat`, never followed, so a symlink planted
 * by an earlier entry cannot redirect a later one (the "symlink then write through it" attack that hit
 * docker cp, CVE-2018-15664, and many tar extractors).
 */
import { mkdir, readdir, realpath } from "node:fs/promises";
import { isAbsolute, join, relative as relativePath, sep } from "node:path";
import { invalidArgument, lstatOrUndefined, type ShimError } from "../../internal/index.js";
import type { UnpackLimits } from "./unpack-limits.js";

/** An entry's name split into clean components, or a reason it is refused. */
export type EntryPath = { parts: string[] } | { error: string };

/**
 * Splits a tar entry name into components. Leading `./` and empty or `.` components are dropped (GNU tar and
 * Docker write `./x` and `x/`); absolute names, `..` components, NUL bytes and over-long names are refused
 * rather than rewritten, as a layer that contains them was not built by an honest tool.
 */
export function parseEntryPath(name: string, limits: UnpackLimits): EntryPath {
  if (name.includes("\0")) return { error: "the name contains a NUL byte" };
  if (Buffer.byteLength(name) > limits.maxPathBytes)
    return { error: `the name is longer than ${limits.maxPathBytes} bytes` };
  if (name.startsWith("/")) return { error: "absolute paths are not allowed in a layer" };
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") return { error: "`..` components are not allowed in a layer" };
    if (Buffer.byteLength(p) > limits.maxNameBytes)
      return { error: `a component is longer than ${limits.maxNameBytes} bytes` };
    parts.push(p);
  }
  return { parts };
}

/**
 * Whether a relative symlink at `parts` (components of its own path) pointing at `target` resolves inside the
 * rootfs, judged lexically from the link's directory as the kernel would walk it if every component were a
 * directory. Absolute targets are refused: inside a container they mean the container's root, but on the host,
 * where nodewasi itself and node:wasi preopens resolve them, they would mean the host's root. So is a `..` after
 * another component (`up/..`): the kernel takes it from wherever that component leads, and a guest may make the
 * component a link of its own to another climbing link (src/wasi/guest-symlinks.ts): only leading `..`s are
 * taken from the link's own directory, which the guest cannot move.
 */
export function symlinkTargetError(parts: string[], target: string): string | undefined {
  if (target === "") return "the symlink target is empty";
  if (target.includes("\0")) return "the symlink target contains a NUL byte";
  if (target.startsWith("/")) return `the symlink target ${JSON.stringify(target)} is absolute`;
  let depth = parts.length - 1;
  for (const p of target.split("/")) {
    if (p === "" || p === ".") continue;
    depth += p === ".." ? -1 : 1;
    if (depth < 0) return `the symlink target ${JSON.stringify(target)} climbs out of the rootfs`;
  }
  const named = target.split("/").filter((p) => p !== "" && p !== ".");
  if (named.some((p, i) => p === ".." && i > 0 && named[i - 1] !== ".."))
    return `the symlink target ${JSON.stringify(target)} has a \`..\` after another component; write it without the detour`;
  return undefined;
}

/**
 * Makes sure every parent directory of `parts` under `root` is a real directory (creating missing ones with
 * mode 0755), never passing through a symlink or a file. Returns the absolute path of the entry itself.
 * `refuse` words the error for the entry at hand. `known` holds directories checked or made already; they are
 * not looked at again, so a layer of N entries at depth D costs N + D lookups, not N x D (2,000 entries at
 * depth 1,000 took 9 minutes). Whoever removes or replaces a directory must take it and everything below it
 * out of `known` (forgetDirs), or a symlink put in its place would be trusted.
 */
export async function ensureParents(
  root: string,
  parts: string[],
  refuse: (why: string) => ShimError,
  known?: Set<string>,
): Promise<string> {
  if (parts.length === 0) return root;
  // Paths are built by concatenation (parts are clean components) and each prefix cut from the whole parent
  // path, from the deepest up to the first one known: path.join on every level was quadratic in the depth.
  const parent = [root, ...parts.slice(0, -1)].join("/");
  const ends: number[] = [];
  let end = root.length;
  for (const p of parts.slice(0, -1)) {
    end += 1 + p.length;
    ends.push(end);
  }
  let first = ends.length;
  while (first > 0 && !known?.has(parent.slice(0, ends[first - 1]))) first--;
  for (const end of ends.slice(first)) {
    const dir = parent.slice(0, end);
    const st = await lstatOrUndefined(dir);
    if (st === undefined) await mkdir(dir, { mode: 0o755 });
    else if (st.isSymbolicLink())
      throw refuse(`its parent ${JSON.stringify(relative(root, dir))} is a symlink`);
    else if (!st.isDirectory())
      throw refuse(`its parent ${JSON.stringify(relative(root, dir))} is not a directory`);
    known?.add(dir);
  }
  return `${parent}/${parts.at(-1)}`;
}

/** Takes `path` and everything below it out of ensureParents' `known` directories. */
export function forgetDirs(known: Set<string>, path: string): void {
  for (const d of known) if (d === path || d.startsWith(`${path}/`)) known.delete(d);
}

/**
 * The first symlink under `root` that resolves outside it, as a path relative to `root`, or undefined. Each
 * target is checked lexically when its entry is unpacked (symlinkTargetError), which assumes every component
 * is a directory; a chain of links defeats that (`x/l -> ..` then `esc -> x/l/../..`), in whichever order the
 * links arrive. So once a layer has added links, every link in the tree is resolved for real by the kernel.
 * Dangling links are left alone: they lead nowhere, and anything a later layer adds is checked again.
 */
export async function escapingSymlink(root: string): Promise<string | undefined> {
  const realRoot = await realpath(root);
  const walk = async (dir: string): Promise<string | undefined> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        const found = await walk(path);
        if (found) return found;
      } else if (e.isSymbolicLink()) {
        const real = await realpath(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT") return undefined;
          return "";
        });
        if (real === undefined) continue;
        const rel = relativePath(realRoot, real);
        if (real === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel))
          return relative(root, path);
      }
    }
    return undefined;
  };
  return walk(root);
}

function relative(root: string, path: string): string {
  return path.slice(root.length + 1);
}

/** The error for a refused entry: it names the layer, the entry and the reason. */
export function refusal(layer: string, entry: string, why: string): ShimError {
  return invalidArgument(
    `${layer}: refusing entry ${JSON.stringify(entry)}: ${why}; the image is malformed or hostile, ` +
      "rebuild it or ask its publisher",
  );
}
