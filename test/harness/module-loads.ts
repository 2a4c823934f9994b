/**
 * Which modules a command loads: start-up cost is mostly module loading (undici, grpc-js and protobuf's runtime
 * each take longer to load than Node takes to boot), so tests assert that a command stays clear of them.
 *
 * The launchers run the bundles of dist/bundle (scripts/bundle.mjs), where one loaded file holds many modules:
 * `loaded` names, after each bundle file, the modules bundled into it (from dist/bundle/meta.json, esbuild's
 * metafile), so that a test asks the same question of a bundle as of tsc's one-file-per-module output.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT as REPO } from "./shim.js";

/** How a child process ended, and the URL of every module it loaded, in order. */
export interface LoadingRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Every module loaded: each file's URL, followed, for a bundle file, by the URLs of the modules it holds. */
  loaded: string[];
  /** The URL of every file loaded, as the module hook saw them. */
  files: string[];
}

interface Metafile {
  outputs: Record<string, { inputs: Record<string, unknown>; entryPoint?: string }>;
}

let metafile: Metafile | undefined;

/** esbuild's metafile of dist/bundle, read once; paths in it are relative to the checkout. */
function bundleMeta(): Metafile {
  metafile ??= JSON.parse(readFileSync(join(REPO, "dist", "bundle", "meta.json"), "utf8")) as Metafile;
  return metafile;
}

const url = (relative: string) => pathToFileURL(resolve(REPO, relative)).href;

/** The URLs of the modules bundled into the dist/bundle file at `fileUrl`, or [] when it is no bundle file. */
export function bundledModules(fileUrl: string): string[] {
  for (const [out, { inputs }] of Object.entries(bundleMeta().outputs)) {
    if (url(out) === fileUrl) return Object.keys(inputs).map(url);
  }
  return [];
}

/**
 * The modules behind the CommonJS cache's `paths` (`Object.keys(require.cache)`, which the ES module hook of
 * `loading` does not see): each file's URL, followed, for a bundle file (dist/bundle/esm/grpc-js.cjs), by the
 * URLs of the modules it holds.
 */
export function requiredModules(paths: string[]): string[] {
  return paths.flatMap((p) => {
    const u = pathToFileURL(p).href;
    return [u, ...bundledModules(u)];
  });
}

/** The URL of the dist/bundle file made for the lazily imported (or entry) module `path` of dist/src. */
export function bundleOf(path: string): string {
  for (const [out, { entryPoint }] of Object.entries(bundleMeta().outputs)) {
    if (entryPoint && resolve(REPO, entryPoint) === resolve(REPO, path)) return url(out);
  }
  throw new Error(`dist/bundle has no file for ${path}; run npm run build`);
}

/**
 * Runs `node ...args` in `dir` with a module hook (Node >= 20.6) that lists every module URL it loads (ES
 * modules, and the entry file of each CommonJS package).
 */
export async function loading(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<LoadingRun> {
  const hooks = join(dir, "hooks.mjs");
  const list = join(dir, "loaded.txt");
  await rm(list, { force: true });
  await writeFile(
    hooks,
    `import { appendFileSync } from "node:fs";\n` +
      `export async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + "\\n"); return next(url, context); }\n`,
  );
  const register = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(pathToFileURL(hooks).href)});`;
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    const p = execFile(
      process.execPath,
      ["--import", register, ...args],
      { cwd: dir, env: { ...process.env, ...env } },
      (err, stdout, stderr) => done({ code: err ? 1 : 0, stdout, stderr }),
    );
    p.stdin?.end();
  });
  const files = (await readFile(list, "utf8").catch(() => "")).split("\n").filter(Boolean);
  const bundled = files.some((f) => f.startsWith(url("dist/bundle/")));
  const loaded = bundled ? files.flatMap((f) => [f, ...bundledModules(f)]) : files;
  return { ...r, loaded, files };
}
