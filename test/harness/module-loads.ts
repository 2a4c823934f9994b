/**
 * Which modules a command loads: start-up cost is mostly module loading (undici, grpc-js and protobuf's runtime
 * each take longer to load than Node takes to boot), so tests assert that a command stays clear of them.
 */
import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** How a child process ended, and the URL of every module it loaded, in order. */
export interface LoadingRun {
  code: number;
  stdout: string;
  stderr: string;
  loaded: string[];
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
  const loaded = (await readFile(list, "utf8").catch(() => "")).split("\n").filter(Boolean);
  return { ...r, loaded };
}
