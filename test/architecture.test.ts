/**
 * The dependency direction of ../shared/DESIGN.md, checked on the sources:
 * `internal <- gen <- {oci, wasi, rpc} <- shim <- {containerd, cli}`; `oci` and `wasi` know nothing of each
 * other, `rpc` nothing of tasks, `shim` never imports `rpc`; and a folder is entered only through its
 * `index.ts`. Tests beside the code follow the same rules, and may also use test/harness.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SRC = join(ROOT, "src");

/** What each folder may import, besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  internal: [],
  gen: ["internal"],
  oci: ["internal", "gen"],
  wasi: ["internal", "gen"],
  rpc: ["internal", "gen"],
  shim: ["internal", "gen", "oci", "wasi"],
  containerd: ["internal", "gen", "oci", "wasi", "rpc", "shim"],
  cli: ["internal", "gen", "oci", "wasi", "rpc", "shim"],
  ".": ["internal", "gen", "oci", "wasi", "rpc", "shim", "containerd", "cli"],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The top folder of a path under src (`oci` for src/oci/registry/x.ts), "." for src itself. */
function folderOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes(sep) ? rel.split(sep)[0]! : ".";
}

/** Relative import specifiers of a source file, static and dynamic. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) found.push(m[1]!);
  return found;
}

/** Every broken rule in the tree, as readable lines. */
export function violations(files: string[], read = (f: string) => readFileSync(f, "utf8")): string[] {
  const out: string[] = [];
  for (const file of files) {
    const from = folderOf(file);
    const isTest = file.endsWith(".test.ts");
    for (const spec of importsOf(read(file))) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, ".ts");
      const where = `${relative(ROOT, file)} imports ${spec}`;
      if (!target.startsWith(SRC + sep)) {
        if (!(isTest && target.startsWith(join(ROOT, "test", "harness") + sep))) {
          out.push(`${where}: outside src/`);
        }
        continue;
      }
      const to = folderOf(target);
      if (to === from) continue;
      if (!ALLOWED[from]?.includes(to)) out.push(`${where}: ${from} may not depend on ${to}`);
      else if (relative(SRC, target) !== join(to, "index.ts")) {
        out.push(`${where}: enter ${to} through ${to}/index.ts`);
      }
    }
  }
  return out;
}

describe("architecture", () => {
  it("keeps the dependency direction of DESIGN.md and enters folders through index.ts", () => {
    assert.deepEqual(violations(sources(SRC)), []);
  });

  it("sees each kind of violation", () => {
    const fake: Record<string, string> = {
      [join(SRC, "oci", "a.ts")]: `import { x } from "../wasi/index.js";\nimport { y } from "./b.js";`,
      [join(SRC, "shim", "s.ts")]: `const m = await import("../oci/pull.js");`,
      [join(SRC, "cli", "c.ts")]: `import type { T } from "../../test/harness/index.js";`,
      [join(SRC, "cli", "c.test.ts")]: `import { h } from "../../test/harness/index.js";`,
    };
    assert.deepEqual(
      violations(Object.keys(fake), (f) => fake[f]!),
      [
        "src/oci/a.ts imports ../wasi/index.js: oci may not depend on wasi",
        "src/shim/s.ts imports ../oci/pull.js: enter oci through oci/index.ts",
        "src/cli/c.ts imports ../../test/harness/index.js: outside src/",
      ],
    );
  });
});
