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

/**
 * The sub-rooms of src/oci and what each may import besides itself, in the order src/oci/index.ts states: a
 * room names only rooms before it, so the order has no cycle.
 */
const OCI_ROOMS: Record<string, readonly string[]> = {
  image: [],
  registry: ["image"],
  store: ["image"],
  unpack: ["image", "store"],
  pull: ["image", "registry", "store", "unpack"],
  build: ["image", "store", "unpack", "pull"],
  copy: ["image", "registry", "store", "pull", "build"],
};
const OCI = join(SRC, "oci");

/** The sub-room of a path under src/oci (`store` for src/oci/store/x.ts), "." for src/oci itself. */
function ociRoomOf(path: string): string | undefined {
  const rel = relative(OCI, path);
  if (rel.startsWith("..")) return undefined;
  return rel.includes(sep) ? rel.split(sep)[0]! : ".";
}

/**
 * Every broken rule between the sub-rooms of src/oci: each file lives in a room (src/oci/index.ts aside), a
 * room is entered only through its index.ts, and a room imports only the rooms OCI_ROOMS gives it. Tests beside
 * the code may import any room (their fixtures are built with build/ and pulled with pull/), through its index.ts.
 */
export function ociRoomViolations(files: string[], read = (f: string) => readFileSync(f, "utf8")): string[] {
  const out: string[] = [];
  for (const file of files) {
    const from = ociRoomOf(file);
    if (from === undefined) continue;
    if (from === "." && file !== join(OCI, "index.ts"))
      out.push(`${relative(ROOT, file)}: not in a room of src/oci`);
    else if (from !== "." && !OCI_ROOMS[from])
      out.push(`${relative(ROOT, file)}: ${from} is not in OCI_ROOMS`);
    const isTest = file.endsWith(".test.ts");
    for (const spec of importsOf(read(file))) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, ".ts");
      const to = ociRoomOf(target);
      if (to === undefined || to === from) continue;
      const where = `${relative(ROOT, file)} imports ${spec}`;
      if (to === ".") out.push(`${where}: a room may not import src/oci/index.ts`);
      else if (from !== "." && !isTest && !OCI_ROOMS[from]?.includes(to)) {
        out.push(`${where}: oci/${from} may not depend on oci/${to}`);
      } else if (target !== join(OCI, to, "index.ts"))
        out.push(`${where}: enter oci/${to} through its index.ts`);
    }
  }
  return out;
}

describe("the rooms of src/oci", () => {
  it("are entered through their index.ts and imported only in the order of src/oci/index.ts", () => {
    assert.deepEqual(ociRoomViolations(sources(SRC)), []);
  });

  it("name only rooms before them, and every room on disk is named", () => {
    const names = Object.keys(OCI_ROOMS);
    names.forEach((room, i) => {
      for (const dep of OCI_ROOMS[room]!)
        assert.ok(names.indexOf(dep) < i, `${room} names ${dep}, which comes later`);
    });
    const onDisk = readdirSync(OCI, { withFileTypes: true }).filter((e) => e.isDirectory());
    assert.deepEqual(onDisk.map((e) => e.name).sort(), [...names].sort());
  });

  it("sees each kind of violation", () => {
    const fake: Record<string, string> = {
      [join(OCI, "loose.ts")]: "",
      [join(OCI, "image", "a.ts")]: `import { s } from "../store/index.js";`,
      [join(OCI, "pull", "b.ts")]: `import { t } from "../store/store.js";\nimport { u } from "../index.js";`,
      [join(OCI, "store", "c.test.ts")]:
        `import { b } from "../build/index.js";\nimport { p } from "../pull/pull.js";`,
      [join(OCI, "index.ts")]:
        `export { x } from "./copy/copy-types.js";\nexport { y } from "./copy/index.js";`,
    };
    assert.deepEqual(
      ociRoomViolations(Object.keys(fake), (f) => fake[f]!),
      [
        "src/oci/loose.ts: not in a room of src/oci",
        "src/oci/image/a.ts imports ../store/index.js: oci/image may not depend on oci/store",
        "src/oci/pull/b.ts imports ../store/store.js: enter oci/store through its index.ts",
        "src/oci/pull/b.ts imports ../index.js: a room may not import src/oci/index.ts",
        "src/oci/store/c.test.ts imports ../pull/pull.js: enter oci/pull through its index.ts",
        "src/oci/index.ts imports ./copy/copy-types.js: enter oci/copy through its index.ts",
      ],
    );
  });
});
