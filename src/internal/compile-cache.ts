/**
 * V8's compile cache for the launchers (`bin/nodewasi`, with the `shim serve` daemon it starts, and the shim
 * binary's `bin/containerd-shim-nodewasi-v1.mjs`): Node >= 22.1 keeps the code V8 compiled for each loaded file
 * and reuses it at the next boot while the file is unchanged, so a command does not parse and compile its
 * bundle again. Node 20 has no such API and gets nothing (a compile cache of ES modules cannot be made from
 * JavaScript there). The launchers import it as a bundle entry of its own (scripts/bundle.mjs), before the rest.
 *
 * The cache holds code that the next boot runs without compiling it from the source, so whoever can write the
 * folder can make nodewasi run their code: it is one folder per user (`$XDG_CACHE_HOME/nodewasi/compile-cache`,
 * else `~/.cache/...`), never Node's default (`os.tmpdir()/node-compile-cache`, which every user can create
 * first), and it is used only when it is a real directory that this user owns and no one else may write. When
 * the folder cannot be made (a read-only home, no home) the command runs without a cache; Node itself
 * recompiles what a damaged or foreign cache entry holds (it checks each entry against the source's hash and
 * its own version and flags). The folder is made here rather than by Node, which loops forever on some paths
 * it cannot make (Node 24 on one under /proc). `NODE_COMPILE_CACHE` and `NODE_DISABLE_COMPILE_CACHE` keep
 * Node's own meaning: the first picks the folder (Node enabled it before this runs), the second turns it off.
 */
import { lstatSync, mkdirSync } from "node:fs";
import module from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";

/** `module.enableCompileCache`, which Node 20 lacks; typed here because @types/node is Node 20's. */
type EnableCompileCache = (dir: string) => { status: number; message?: string; directory?: string };

/** The per-user folder of the compile cache: `$XDG_CACHE_HOME/nodewasi/compile-cache`, else under `~/.cache`. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "nodewasi", "compile-cache");
}

/**
 * Whether `dir` may hold code this process runs: a directory (not a link to one) owned by `uid` that neither
 * group nor others may write, inside a parent of the same kind (else its owner could swap the folder).
 */
export function isPrivateDir(dir: string, uid: number): boolean {
  for (const path of [dir, join(dir, "..")]) {
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Turns the compile cache on, in `compileCacheDir(env)`, when this Node has it and the folder is private to this
 * user (made 0700 when missing). Returns the folder in use, or undefined when there is none. Never throws: a
 * cache is only ever an optimisation.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const enable = (module as unknown as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  const uid = process.getuid?.();
  if (!enable || uid === undefined || env.NODE_DISABLE_COMPILE_CACHE || env.NODE_COMPILE_CACHE)
    return undefined;
  try {
    const dir = compileCacheDir(env);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!isPrivateDir(dir, uid)) return undefined;
    const result = enable(dir);
    // 0 FAILED, 1 ENABLED, 2 ALREADY_ENABLED, 3 DISABLED (module.constants.compileCacheStatus).
    return result.status === 1 || result.status === 2 ? (result.directory ?? dir) : undefined;
  } catch {
    return undefined;
  }
}
