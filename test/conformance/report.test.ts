import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderReport, reportDifferences, table } from "./report.js";
import type { ConformanceRun } from "./run.js";
import type { CaseSpec, ConformanceCase } from "./suite.js";
import { type CaseResult, difference, judge, sameOutcome } from "./verdict.js";

function testCase(id: string, spec: Partial<CaseSpec> = {}): ConformanceCase {
  const name = id.slice(id.lastIndexOf("/") + 1);
  return {
    id,
    name,
    group: "g",
    module: `/suite/${name}.wasm`,
    dir: "/suite",
    spec: { args: [], env: {}, root: null, exitCode: 0, ...spec },
  };
}

/** A case result from two outcomes, judged the way run.ts judges them. */
function result(c: ConformanceCase, direct: [number, string, string], shim: [number, string, string]) {
  const o = ([exitCode, stdout, stderr]: [number, string, string]) => ({ exitCode, stdout, stderr });
  const d = judge(c.spec, o(direct));
  const s = judge(c.spec, o(shim));
  return { case: c, direct: d, shim: s, same: sameOutcome(d.outcome, s.outcome) } satisfies CaseResult;
}

describe("judge", () => {
  it("compares the exit status always, stdout and stderr only when the spec gives them", () => {
    const spec: CaseSpec = { args: [], env: {}, root: null, exitCode: 0, stdout: "hello" };
    assert.equal(judge(spec, { exitCode: 0, stdout: "hello", stderr: "noise" }).pass, true);
    const wrong = judge(spec, { exitCode: 1, stdout: "hell", stderr: "" });
    assert.equal(wrong.pass, false);
    assert.equal(wrong.why, 'exit 1, expected 0; stdout "hell", expected "hello"');
    const none = judge(spec, undefined, "Create: not found");
    assert.equal(none.pass, false);
    assert.equal(none.why, "did not run: Create: not found");
  });
});

describe("sameOutcome and difference", () => {
  const panic = (left: string, right: string) =>
    `thread 'main' panicked at src/bin/fd_filestat_set.rs:26:5:\nassertion \`left == right\` failed\n  left: ${left}\n right: ${right}\n`;

  it("exit status and stdout exactly, stderr without its clock readings, mtimes and addresses", () => {
    const a = result(
      testCase("rust/fd_filestat_set"),
      [134, "checking\n", panic("1765108800123456789", "1765108800123456790")],
      [134, "checking\n", panic("1765108801987654321", "1765108801987654400")],
    );
    assert.equal(a.same, true);
    assert.equal(difference(a), "");
    const addresses = result(testCase("c/x"), [1, "", "at 0x7ffe12a0\n"], [1, "", "at 0x7ffd33b8\n"]);
    assert.equal(addresses.same, true);
  });

  it("a different status, stdout, panic line or small number still differs", () => {
    const stdout = result(testCase("c/a"), [0, "1765108800\n", ""], [0, "1765108801\n", ""]);
    assert.equal(stdout.same, false);
    assert.equal(difference(stdout), 'stdout "1765108801\\n" through the shim, "1765108800\\n" directly');
    const line = result(testCase("c/b"), [134, "", panic("1", "2")], [134, "", panic("1", "3")]);
    assert.equal(line.same, false);
    assert.match(difference(line), /^stderr "thread 'main' panicked/);
    const status = result(
      testCase("c/c"),
      [134, "", panic("17651088001", "2")],
      [1, "", panic("17651088002", "2")],
    );
    assert.equal(difference(status), "exit 1 through the shim, 134 directly");
  });
});

describe("renderReport", () => {
  const pass = result(testCase("c/ok"), [0, "", ""], [0, "", ""]);
  const limit = result(
    testCase("c/sock_shutdown-not_sock"),
    [134, "", "Assertion failed\n"],
    [134, "", "Assertion failed\n"],
  );
  const unknown = result(testCase("c/new-failure"), [1, "", "boom | here\n"], [1, "", "boom | here\n"]);
  const differs = result(testCase("as/env", { exitCode: 0 }), [0, "", ""], [255, "", "abort\n"]);

  it("lists every case with both results and the totals; a case failing both ways is a Node limitation", () => {
    const run: ConformanceRun = { results: [pass, limit, unknown], skipped: [], unsupported: [] };
    const text = renderReport(run, { suiteLabel: "test/s", source: "X at 123" });
    assert.match(text, /tests of `test\/s` \(X at 123\)/);
    assert.match(text, /\| direct \(node:wasi\) \| 1 +\| 2 +\| 3 +\|/);
    assert.match(text, /\| shim = direct +\| 3 +\| 0 +\| 3 +\|/);
    assert.match(text, /\| `c\/ok` +\| pass +\| pass +\| yes +\|/);
    assert.match(text, /## Node limitations[\s\S]*`c\/sock_shutdown-not_sock` \| uvwasi answers/);
    assert.match(text, /`c\/new-failure` +\| no reason recorded yet[^|]*\| `boom \\\| here` +\|/);
    assert.doesNotMatch(text, /Shim differs/);
    assert.equal(renderReport(run, { suiteLabel: "test/s" }), renderReport(run, { suiteLabel: "test/s" }));
  });

  it("a case where the shim differs is marked and explained, and is no Node limitation", () => {
    const run: ConformanceRun = {
      results: [differs],
      skipped: [{ folder: "p3", reason: "version wasm32-wasip3" }],
      unsupported: [{ ...testCase("r/dirs"), unsupported: "spec keys not supported: dirs" }],
    };
    const text = renderReport(run, { suiteLabel: "s" });
    assert.match(text, /\| `as\/env` +\| pass +\| fail \(exit 255\) \| \*\*no\*\* +\|/);
    assert.match(
      text,
      /## Shim differs from node:wasi, or a run did not finish[\s\S]*exit 255 through the shim, 0 directly; stderr "abort\\n"/,
    );
    assert.doesNotMatch(text, /Node limitations/);
    assert.match(
      text,
      /## Not run\n\n- `r\/dirs`: spec keys not supported: dirs\n- folder `p3`: version wasm32-wasip3\n/,
    );
  });
});

describe("reportDifferences", () => {
  const run = (results: CaseResult[]): ConformanceRun => ({ results, skipped: [], unsupported: [] });
  const a = result(testCase("c/a"), [0, "", ""], [0, "", ""]);
  const b = result(testCase("c/b"), [0, "", ""], [0, "", ""]);
  const bBroken = result(testCase("c/b"), [0, "", ""], [3, "", ""]);
  const c = result(testCase("c/c"), [0, "", ""], [0, "", ""]);

  it("is empty for the same text and names each case whose row changed, came or went", () => {
    const before = renderReport(run([a, b]), { suiteLabel: "s" });
    assert.deepEqual(reportDifferences(before, before), []);
    const after = renderReport(run([bBroken, c]), { suiteLabel: "s" });
    const diffs = reportDifferences(before, after);
    assert.equal(diffs.length, 3, diffs.join("\n"));
    assert.match(diffs[0]!, /^c\/b: was \| `c\/b` .*\| yes +\|, now .*fail \(exit 3\) \| \*\*no\*\* +\|$/);
    assert.match(diffs[1]!, /^c\/c: new case/);
    assert.match(diffs[2]!, /^c\/a: no longer in the suite/);
  });

  it("a report written on another Node.js major is up to date when nothing else differs", () => {
    // Found running the suite on Node 24: --check failed on the header's "on Node.js 20" alone.
    const text = renderReport(run([a]), { suiteLabel: "s" });
    const major = process.versions.node.split(".")[0];
    assert.match(text, new RegExp(` on Node\\.js ${major}:`));
    assert.deepEqual(reportDifferences(text.replace(` on Node.js ${major}:`, " on Node.js 18:"), text), []);
  });

  it("says so when only the text around the rows differs", () => {
    const text = renderReport(run([a]), { suiteLabel: "s" });
    assert.deepEqual(reportDifferences(text.replace("# WASI", "# Old"), text), [
      "the text differs outside the result rows",
    ]);
  });
});

describe("table", () => {
  it("pads every column to its widest cell, at least three wide", () => {
    assert.deepEqual(table(["a", "long header"], [["x", 1]]), [
      "| a   | long header |",
      "| --- | ----------- |",
      "| x   | 1           |",
    ]);
  });
});
