/**
 * The dependency direction of ../shared/DESIGN.md, checked on the sources:
 * `internal <- gen <- {oci, wasi, rpc} <- shim <- {containerd, cli}`; `oci` and `wasi` know nothing of each
 * other, `rpc` nothing of tasks, `shim` never imports `rpc`; and a folder is entered only through its
 * `index.ts`. Tests beside the code follow the same rules, and may also use test/harness, which is where code
 * that only tests use belongs: a src/ file that tests import and no other src/ file uses is reported.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

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

/**
 * Files a source file uses: its relative imports and the modules it starts by URL
 * (`new URL("./runner-main.js", import.meta.url)`), resolved to .ts paths.
 */
function usesOf(file: string, text: string): string[] {
  const specs = importsOf(text);
  for (const m of text.matchAll(/new URL\(\s*["'](\.{1,2}\/[^"']+\.js)["']\s*,\s*import\.meta\.url/g))
    specs.push(m[1]!);
  return specs.map((spec) => resolve(dirname(file), spec).replace(/\.js$/, ".ts"));
}

/**
 * src/ files (not tests, not a folder's index.ts) that only tests import, directly or through other such files:
 * test fixtures, whose home is test/harness, or code that nothing shipped needs. A file nothing imports (an
 * entry point such as cli/main.ts) is not one.
 */
export function testOnly(files: string[], read = (f: string) => readFileSync(f, "utf8")): string[] {
  const importers = new Map<string, string[]>();
  for (const file of files) {
    for (const target of usesOf(file, read(file))) {
      if (target !== file) importers.set(target, [...(importers.get(target) ?? []), file]);
    }
  }
  const found = new Set<string>();
  const isTest = (f: string) => f.endsWith(".test.ts") || found.has(f);
  for (let grew = true; grew; ) {
    grew = false;
    for (const f of files) {
      if (found.has(f) || f.endsWith(".test.ts") || basename(f) === "index.ts") continue;
      const by = importers.get(f) ?? [];
      if (by.length > 0 && by.every(isTest)) {
        found.add(f);
        grew = true;
      }
    }
  }
  return files
    .filter((f) => found.has(f))
    .map((f) => `${relative(ROOT, f)}: only tests import it (move it to test/harness)`);
}

/**
 * Class members and parameter properties declared with TypeScript's `private` (STYLE: `#private` fields, which
 * the runtime enforces too). A `private constructor` has no `#` form and is allowed.
 */
export function tsPrivates(files: string[], read = (f: string) => readFileSync(f, "utf8")): string[] {
  const out: string[] = [];
  for (const file of files) {
    const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      const isPrivate =
        ts.canHaveModifiers(node) &&
        ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword);
      if (isPrivate && !ts.isConstructorDeclaration(node)) {
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        const name = (node as ts.NamedDeclaration).name?.getText(source) ?? "?";
        out.push(`${relative(ROOT, file)}:${line}: private ${name}: use #${name}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out;
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

  it("keeps code that only tests use out of src/", () => {
    assert.deepEqual(testOnly(sources(SRC)), []);
  });

  it("uses #private members, not TypeScript's private, outside generated code", () => {
    const written = sources(SRC).filter((f) => !f.startsWith(join(SRC, "gen") + sep));
    assert.deepEqual(tsPrivates(written), []);
  });

  it("sees a TypeScript private member or parameter property, and lets a private constructor be", () => {
    const file = join(SRC, "wasi", "x.ts");
    const text = [
      "class A {",
      "  private readonly a = 1;",
      "  #b = 2;",
      "  private constructor(private c: number, readonly d: number) {}",
      "  private e(): void {}",
      '  f = "private g";',
      "}",
    ].join("\n");
    assert.deepEqual(
      tsPrivates([file], () => text),
      [
        "src/wasi/x.ts:2: private a: use #a",
        "src/wasi/x.ts:4: private c: use #c",
        "src/wasi/x.ts:5: private e: use #e",
      ],
    );
  });

  it("sees a src/ file that only tests import", () => {
    const fake: Record<string, string> = {
      [join(SRC, "wasi", "kit.ts")]: `import { z } from "./kit-part.js";`,
      [join(SRC, "wasi", "kit-part.ts")]: `export const z = 1;`,
      [join(SRC, "wasi", "kit.test.ts")]: `import { x } from "./kit.js";`,
      [join(SRC, "wasi", "used.ts")]: `export const y = 1;`,
      [join(SRC, "wasi", "used.test.ts")]: `import { y } from "./used.js";`,
      [join(SRC, "wasi", "runner.ts")]:
        `import { y } from "./used.js";\nnew URL("./main.js", import.meta.url);`,
      [join(SRC, "wasi", "main.ts")]: ``,
      [join(SRC, "wasi", "main.test.ts")]: `import "./main.js";`,
      [join(SRC, "wasi", "index.ts")]: `export * from "./runner.js";`,
      [join(SRC, "wasi", "index.test.ts")]: `import "./index.js";`,
    };
    assert.deepEqual(
      testOnly(Object.keys(fake), (f) => fake[f]!),
      [
        "src/wasi/kit.ts: only tests import it (move it to test/harness)",
        "src/wasi/kit-part.ts: only tests import it (move it to test/harness)",
      ],
    );
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
