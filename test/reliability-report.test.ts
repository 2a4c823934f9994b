/**
 * The reliability report's own logic (test/harness/reliability-report.ts), on reporter output written here:
 * figures join their test by file and line, a failing, skipped or missing test fails its case, and a suite
 * skipped as a whole lends its reason to its tests.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readOutcomes, renderReport, type Section } from "./harness/reliability-report.js";

const built = (file: string) => `/dist/${file.replace(/\.ts$/, ".js")}`;
const line = (o: object) => `${JSON.stringify(o)}\n`;
const at = (file: string, n: number) => ({ file: built(file), line: n, column: 3 });

const SECTIONS: Section[] = [
  {
    title: "Faults",
    cases: [
      {
        id: "a",
        title: "Case A",
        asked: "a",
        tests: [
          { file: "test/a.test.ts", test: "one" },
          { file: "test/a.test.ts", test: "two | piped" },
        ],
      },
      { id: "b", title: "Case B", asked: "b", tests: [{ file: "test/b.test.ts", test: "fails" }] },
      {
        id: "c",
        title: "Case C",
        asked: "c",
        tests: [{ file: "test/c.test.ts", test: "in a skipped suite" }],
      },
      { id: "d", title: "Case D", asked: "d", tests: [{ file: "test/a.test.ts", test: "renamed away" }] },
    ],
  },
];

const EVENTS = [
  line({ kind: "result", name: "one", result: "pass", ...at("test/a.test.ts", 10) }),
  line({ kind: "diagnostic", message: 'reliability {"tasks":100}', ...at("test/a.test.ts", 10) }),
  line({ kind: "diagnostic", message: "a diagnostic that is no figure", ...at("test/a.test.ts", 10) }),
  line({ kind: "result", name: "two | piped", result: "pass", ...at("test/a.test.ts", 20) }),
  line({ kind: "diagnostic", message: 'reliability {"bytes":"512 KiB"}', ...at("test/a.test.ts", 20) }),
  line({ kind: "result", name: "fails", result: "fail", error: "boom", ...at("test/b.test.ts", 5) }),
  line({
    kind: "result",
    name: "suite",
    result: "skip",
    reason: "no bwrap here",
    ...at("test/c.test.ts", 1),
  }),
  line({
    kind: "result",
    name: "other",
    result: "skip",
    reason: "test name does not match pattern",
    ...at("test/a.test.ts", 30),
  }),
].join("");

describe("the reliability report", () => {
  it("joins figures to their test, and marks failing, skipped and missing tests as not passing", () => {
    const report = renderReport(SECTIONS, ["## Notes"], readOutcomes(EVENTS, built));
    assert.equal(report.total, 4);
    assert.equal(report.passing, 1);
    assert.deepEqual(
      report.notPassing.map((n) => [n.case.id, n.outcome.result, n.outcome.reason ?? n.outcome.error]),
      [
        ["b", "fail", "boom"],
        ["c", "skip", "no bwrap here"],
        ["d", "missing", undefined],
      ],
    );
    const md = report.markdown;
    assert.match(md, /^\*\*1 of 4 cases pass\*\* \(5 tests\)\.$/m);
    assert.match(md, /^### Case A: pass$/m);
    assert.match(md, /^### Case B: FAIL$/m);
    assert.match(md, /^\| one \(`test\/a\.test\.ts`\) \| pass \| tasks: 100 \|$/m);
    assert.match(md, /^\| two \\\| piped \(`test\/a\.test\.ts`\) \| pass \| bytes: 512 KiB \|$/m);
    assert.match(md, /^\| in a skipped suite \(`test\/c\.test\.ts`\) \| skipped \(no bwrap here\) \| - \|$/m);
    assert.match(md, /^\| renamed away \(`test\/a\.test\.ts`\) \| missing \| - \|$/m);
    assert.ok(md.endsWith("## Notes\n"));
    assert.doesNotMatch(md, /\d{4}-\d\d-\d\dT/, "no timestamp");
  });

  it("with no reporter output at all, every case is missing", () => {
    const report = renderReport(SECTIONS, [], readOutcomes("", built));
    assert.equal(report.passing, 0);
    assert.ok(report.notPassing.every((n) => n.outcome.result === "missing"));
  });
});
