#!/usr/bin/env node
/**
 * `npm run reliability`: runs exactly the reliability cases of scripts/reliability-cases.mjs (issue 6, items 2
 * and 4) from the build output and writes docs/RELIABILITY.md, each case in the issue's order with its result
 * and the figures its tests recorded. `npm run reliability -- --check` also exits 1 when a test of a case failed
 * or is missing (renamed or gone), which is how CI notices a regression. A test skipped for want of root or a
 * tool (the disk-full tmpfs, the private containerd) is shown as skipped with its reason, and does not fail it.
 *
 * The test output (spec reporter) goes to stdout as with `npm test`; the results travel through
 * scripts/reliability-reporter.mjs into a temp file, read by dist/test/harness/reliability-report.js. The
 * document holds no timestamp and no raw duration, so a run that changes nothing leaves it unchanged.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readOutcomes, renderReport } from "../dist/test/harness/reliability-report.js";
import { NOTES, SECTIONS } from "./reliability-cases.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const check = process.argv.includes("--check");
const DOC = join(root, "docs", "RELIABILITY.md");

/** `test/x.test.ts` -> the absolute path of `dist/test/x.test.js`. */
const built = (file) => join(root, "dist", file.replace(/\.ts$/, ".js"));
const regexQuote = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const tests = SECTIONS.flatMap((s) => s.cases.flatMap((c) => c.tests));
const files = [...new Set(tests.map((t) => built(t.file)))];
const patterns = [...new Set(tests.map((t) => `--test-name-pattern=^${regexQuote(t.test)}$`))];

const tmp = mkdtempSync(join(tmpdir(), "nodewasi-reliability-"));
const events = join(tmp, "events.jsonl");
const t0 = Date.now();
const code = await new Promise((resolve) => {
  const child = spawn(
    process.execPath,
    [
      "--test",
      "--test-concurrency=2",
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      `--test-reporter=${join(root, "scripts", "reliability-reporter.mjs")}`,
      `--test-reporter-destination=${events}`,
      ...patterns,
      ...files,
    ],
    { stdio: "inherit", env: { ...process.env, NODEWASI_TEST: "1" } },
  );
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
});
const seconds = Math.round((Date.now() - t0) / 1000);
let jsonl = "";
try {
  jsonl = readFileSync(events, "utf8");
} catch {
  // no events: the runner failed before any test; every case is missing below
}
rmSync(tmp, { recursive: true, force: true });

const report = renderReport(SECTIONS, NOTES, readOutcomes(jsonl, built));
writeFileSync(DOC, report.markdown);
// Laid out as the linter wants it (aligned tables), so `biome check .` stays clean after a regeneration.
spawnSync(join(root, "node_modules", ".bin", "biome"), ["format", "--write", DOC], { stdio: "ignore" });

console.log(
  `\nreliability: ${report.passing} of ${report.total} cases pass, ${tests.length} tests, ${seconds} s; wrote docs/RELIABILITY.md`,
);
for (const { case: c, test, outcome: o } of report.notPassing) {
  const why = `${o.result}${o.reason ? ` (${o.reason})` : ""}${o.error ? `: ${o.error}` : ""}`;
  console.log(`  ${c.title}: ${test.test} (${test.file}): ${why}`);
}
const broken = report.notPassing.filter((n) => n.outcome.result !== "skip");
if (check && (broken.length > 0 || code !== 0)) {
  console.error(
    `reliability --check: ${broken.length} test(s) failed or missing${code !== 0 ? `, test runner exit ${code}` : ""}`,
  );
  process.exit(1);
}
