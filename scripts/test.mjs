#!/usr/bin/env node
/**
 * Runs nodewasi's test suite from the build output: every `*.test.js` under dist/src, dist/test and
 * dist/bench, passed to `node --test` by name. Node 20's `--test` takes no globs, and its directory mode would
 * also run the helpers and fixtures under dist/test as tests, so the files are listed here.
 *
 * Usage: `npm test` (builds first), `npm test -- pull registry` (only files whose path contains "pull" or
 * "registry"), `npm test -- --test-name-pattern=digest` (arguments starting with `-` go to `node --test`).
 * Sets NODEWASI_TEST=1 for the tests; exits with the runner's status.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const roots = ["dist/src", "dist/test", "dist/bench"].map((d) => join(root, d));

/** Every `*.test.js` under `dir`, sorted, so runs are ordered the same everywhere. */
function testFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(path));
    else if (e.isFile() && e.name.endsWith(".test.js")) out.push(path);
  }
  return out.sort();
}

const args = process.argv.slice(2);
const nodeArgs = args.filter((a) => a.startsWith("-"));
const filters = args.filter((a) => !a.startsWith("-"));

const all = roots.flatMap(testFiles);
if (all.length === 0) {
  console.error("test: no dist/**/*.test.js found; run `npm run build` first (npm test does)");
  process.exit(1);
}
const files = filters.length
  ? all.filter((f) => {
      const rel = relative(root, f).split(sep).join("/");
      return filters.some((p) => rel.includes(p));
    })
  : all;
if (files.length === 0) {
  console.error(`test: no test file path contains ${filters.map((f) => JSON.stringify(f)).join(" or ")}`);
  process.exit(1);
}

const child = spawn(process.execPath, ["--test", "--test-concurrency=2", ...nodeArgs, ...files], {
  stdio: "inherit",
  env: { ...process.env, NODEWASI_TEST: "1" },
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
