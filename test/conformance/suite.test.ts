import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO_ROOT } from "../harness/shim.js";
import { loadSuite, parseSpec, SuiteError } from "./suite.js";
import { rootTree, tarEntries } from "./tree.js";

const VENDORED = join(REPO_ROOT, "test", "wasi-testsuite");

describe("loadSuite on the vendored wasi-testsuite", () => {
  it("finds the 26 preview 1 tests, sorted, with their specs and defaults", async () => {
    const { cases, skipped } = await loadSuite(VENDORED);
    assert.equal(cases.length, 26);
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      cases.map((c) => c.id),
      [...cases.map((c) => c.id)].sort(),
    );
    assert.equal(cases.filter((c) => c.id.startsWith("assemblyscript/")).length, 12);
    const env = cases.find((c) => c.id === "assemblyscript/environ_get-multiple-variables")!;
    assert.deepEqual(env.spec.env, { a: "text", b: 'escap " ing', c: "new\nline" });
    assert.equal(env.group, "WASI AssemblyScript tests [wasm32-wasip1]");
    const exit = cases.find((c) => c.id === "assemblyscript/proc_exit-failure")!;
    assert.equal(exit.spec.exitCode, 33);
    const lseek = cases.find((c) => c.id === "c/lseek")!;
    assert.equal(lseek.spec.root, "fs-tests.dir");
    const bare = cases.find((c) => c.id === "c/clock_getres-monotonic")!;
    assert.deepEqual(bare.spec, { args: [], env: {}, root: null, exitCode: 0 });
    assert.equal(
      cases.some((c) => c.unsupported),
      false,
    );
  });
});

describe("loadSuite on other folders", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-suite-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("a missing folder, or one without tests, is a not-found SuiteError", async () => {
    await assert.rejects(loadSuite(join(dir, "nope")), (e: SuiteError) => {
      assert.equal(e.kind, "not-found");
      assert.match(e.message, /no such folder/);
      return true;
    });
    await mkdir(join(dir, "empty"));
    await assert.rejects(loadSuite(join(dir, "empty")), /no \.wasm test found/);
  });

  it("skips folders of another WASI version, marks specs it cannot honour, keeps preopened folders out", async () => {
    const p1 = join(dir, "s1", "tests", "rust", "testsuite", "wasm32-wasip1");
    const p3 = join(dir, "s1", "tests", "rust", "testsuite", "wasm32-wasip3");
    await mkdir(join(p1, "fs-tests.dir"), { recursive: true });
    await mkdir(p3, { recursive: true });
    await writeFile(join(p1, "manifest.json"), '{"name": "R", "version": "wasm32-wasip1"}');
    await writeFile(join(p3, "manifest.json"), '{"name": "R3", "version": "wasm32-wasip3"}');
    await writeFile(join(p1, "a.wasm"), "");
    await writeFile(join(p1, "b.wasm"), "");
    await writeFile(join(p1, "b.json"), '{"dirs": ["fs-tests.dir"], "args": ["x"]}');
    await writeFile(join(p1, "fs-tests.dir", "inner.wasm"), "");
    await writeFile(join(p3, "c.wasm"), "");
    const { cases, skipped } = await loadSuite(join(dir, "s1"));
    assert.deepEqual(
      cases.map((c) => [c.id, c.unsupported]),
      [
        ["rust/a", undefined],
        ["rust/b", "spec keys not supported: dirs"],
      ],
    );
    assert.deepEqual(skipped, [
      {
        folder: "tests/rust/testsuite/wasm32-wasip3",
        reason: "version wasm32-wasip3: node:wasi runs WASI preview 1 only",
      },
    ]);
  });

  it("a spec that is not JSON is an invalid SuiteError naming the file", async () => {
    const d = join(dir, "s2");
    await mkdir(d);
    await writeFile(join(d, "t.wasm"), "");
    await writeFile(join(d, "t.json"), "{args:");
    await assert.rejects(loadSuite(d), (e: SuiteError) => {
      assert.equal(e.kind, "invalid");
      assert.match(e.message, /t\.json: not JSON/);
      return true;
    });
  });

  it("rootTree leaves *.cleanup files out and lists parents before children", async () => {
    const d = join(dir, "s3");
    await mkdir(join(d, "fs.dir", "sub"), { recursive: true });
    await writeFile(join(d, "t.wasm"), "");
    await writeFile(join(d, "t.json"), '{"root": "fs.dir"}');
    await writeFile(join(d, "fs.dir", "keep"), "k");
    await writeFile(join(d, "fs.dir", "old.cleanup"), "x");
    await writeFile(join(d, "fs.dir", "sub", "also.cleanup"), "x");
    const [c] = (await loadSuite(d)).cases;
    const tree = await rootTree(c!);
    assert.deepEqual(
      tree.map((e) => [e.path, e.type]),
      [
        ["keep", "file"],
        ["sub", "dir"],
      ],
    );
    assert.deepEqual(
      tarEntries(tree).map((e) => [e.path, e.mode]),
      [
        ["keep", 0o644],
        ["sub/", 0o755],
      ],
    );
  });
});

describe("parseSpec", () => {
  const bad: [string, unknown, RegExp][] = [
    ["not an object", [], /must be a JSON object/],
    ["args of numbers", { args: [1] }, /"args" must be a list of strings/],
    ["env of numbers", { env: { A: 1 } }, /"env" must be an object of strings/],
    ["env key with =", { env: { "A=B": "x" } }, /"env" must be an object of strings/],
    ["root leaving the test folder", { root: "../etc" }, /"root" must be a folder inside/],
    ["exit_code as a string", { exit_code: "1" }, /"exit_code" must be an integer/],
    ["stdout as a number", { stdout: 1 }, /"stdout" must be a string/],
  ];
  for (const [what, raw, message] of bad) {
    it(`refuses ${what}, naming the file`, () => {
      assert.throws(
        () => parseSpec(raw, "x/t.json"),
        (e: Error) =>
          e instanceof SuiteError && message.test(e.message) && e.message.startsWith("x/t.json: "),
      );
    });
  }

  it("keeps stdout and stderr only when given", () => {
    assert.deepEqual(parseSpec({ stdout: "hello", stderr: null }, "t.json"), {
      args: [],
      env: {},
      root: null,
      exitCode: 0,
      stdout: "hello",
    });
  });
});
