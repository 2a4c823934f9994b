/**
 * `npm run conformance [-- OPTIONS]`: runs a WASI testsuite through the shim and directly under node:wasi and
 * writes the report (docs/CONFORMANCE.md for the vendored suite). See `--help`.
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ReportContext, renderReport, reportDifferences, totals } from "./report.js";
import { type ConformanceRun, runConformance } from "./run.js";
import { ShimPath } from "./shim-path.js";
import { SuiteError } from "./suite.js";
import { type CaseResult, difference, type RunResult } from "./verdict.js";

/** The repository root (this file runs as dist/test/conformance/main.js). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const DEFAULT_SUITE = join(REPO, "test", "wasi-testsuite");
const DEFAULT_REPORT = join(REPO, "docs", "CONFORMANCE.md");

export const HELP = `Usage: npm run conformance -- [--suite DIR] [--out FILE] [--check] [--json] [--concurrency N]
         [--timeout SECONDS]

Runs every WASI preview 1 test of a wasi-testsuite folder two ways: packaged as an OCI image, pushed to a
private docker-registry and run by a nodewasi shim through the Task API; and directly under node:wasi in
this process. Writes a Markdown report with both results per test, the totals, the tests node:wasi itself
fails (with the reason) and any test where the shim differs from node:wasi.

Options:
  --suite DIR        the suite (layout of WebAssembly/wasi-testsuite: NAME.wasm with NAME.json beside it);
                     default test/wasi-testsuite, the vendored copy
  --out FILE         where the report goes; default docs/CONFORMANCE.md for the default suite, else stdout
  --check            write nothing: fail when the report differs from FILE (listing the cases that changed)
  --json             print the results as JSON on stdout (the report still goes to FILE, when there is one)
  --concurrency N    tests in flight at once (default 2)
  --timeout SECONDS  how long one test may run, each way, before it counts as not run (default 60)
  -h, --help         this text

Needs Debian's docker-registry on PATH and a built checkout (npm run build; npm run conformance builds).

Exit status: 0 every test gives the same result through the shim as under node:wasi (and, with --check,
the report is up to date); 1 the shim differs from node:wasi on a test, the report is stale, or the
registry or shim could not start; 2 usage error; 3 the suite folder is missing or holds an invalid spec.

Examples:
  npm run conformance                                  # regenerate docs/CONFORMANCE.md
  npm run conformance -- --check                       # what npm test, and so CI, checks
  npm run conformance -- --suite ../wasi-testsuite --out /tmp/report.md --json`;

export interface CliResult {
  code: number;
  stdout: string;
}

/** Runs the command with `argv` (after the script name); progress and errors go to `log`. */
export async function main(argv: string[], log: (line: string) => void): Promise<CliResult> {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(argv);
  } catch (err) {
    log(`conformance: ${(err as Error).message}; see --help`);
    return { code: 2, stdout: "" };
  }
  if (values.help) return { code: 0, stdout: `${HELP}\n` };
  const concurrency = Number(values.concurrency ?? "2");
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) {
    log(`conformance: --concurrency must be a whole number from 1 to 16, not ${values.concurrency}`);
    return { code: 2, stdout: "" };
  }
  const timeout = Number(values.timeout ?? "60");
  if (!(timeout > 0 && timeout <= 3600)) {
    log(`conformance: --timeout must be a number of seconds above 0 and at most 3600, not ${values.timeout}`);
    return { code: 2, stdout: "" };
  }
  const suite = values.suite === undefined ? DEFAULT_SUITE : resolve(values.suite);
  const out =
    values.out !== undefined ? resolve(values.out) : suite === DEFAULT_SUITE ? DEFAULT_REPORT : undefined;
  if (values.check && out === undefined) {
    log(
      "conformance: --check compares with a report file: give --out FILE for a suite other than the default",
    );
    return { code: 2, stdout: "" };
  }
  const skip = ShimPath.skipReason();
  if (skip) {
    log(`conformance: cannot run the shim path here: ${skip}`);
    return { code: 1, stdout: "" };
  }

  let run: ConformanceRun;
  try {
    run = await runConformance({
      suite,
      concurrency,
      timeoutMs: timeout * 1000,
      onCase: (r) => log(`conformance: ${r.case.id}: direct ${verdict(r.direct)}, shim ${verdict(r.shim)}`),
    });
  } catch (err) {
    log(`conformance: ${(err as Error).message}`);
    return { code: err instanceof SuiteError ? 3 : 1, stdout: "" };
  }
  const report = renderReport(run, await context(suite, values.suite));
  const t = totals(run);
  let code = 0;
  for (const r of run.results.filter((x) => !x.same)) {
    const what =
      r.direct.outcome && r.shim.outcome ? "the shim differs from node:wasi" : "a run did not finish";
    log(`conformance: ${r.case.id}: ${what}: ${difference(r)}`);
    code = 1;
  }
  let check: { ok: boolean; differences: string[] } | undefined;
  if (values.check && out !== undefined) {
    const committed = await readFile(out, "utf8").catch(() => "");
    const differences = committed ? reportDifferences(committed, report) : [`${out} does not exist`];
    check = { ok: differences.length === 0, differences };
    for (const d of differences) log(`conformance: ${display(out)} is stale: ${d}`);
    if (differences.length > 0) {
      log("conformance: run `npm run conformance` to regenerate it, and commit it with the change");
      code = 1;
    }
  } else if (out !== undefined) {
    await writeFile(out, report);
    log(`conformance: wrote ${display(out)}`);
  }
  log(
    `conformance: ${t.total} tests: direct ${t.directPass} passed, shim ${t.shimPass} passed, shim = direct on ${t.same}`,
  );
  if (values.json) {
    const json = {
      suite: display(suite),
      totals: t,
      cases: run.results.map(caseJson),
      unsupported: run.unsupported.map((c) => ({ id: c.id, reason: c.unsupported })),
      skipped: run.skipped,
      report: out === undefined ? null : display(out),
      ...(check ? { check } : {}),
    };
    return { code, stdout: `${JSON.stringify(json, null, 2)}\n` };
  }
  return { code, stdout: out === undefined ? report : "" };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      suite: { type: "string" },
      out: { type: "string" },
      check: { type: "boolean" },
      json: { type: "boolean" },
      concurrency: { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
}

function verdict(r: RunResult): string {
  return r.pass ? "pass" : `FAIL (${r.why})`;
}

function caseJson(r: CaseResult) {
  const way = (w: RunResult) => ({
    pass: w.pass,
    why: w.why,
    ...(w.outcome ? w.outcome : {}),
    ...(w.error ? { error: w.error } : {}),
  });
  return {
    id: r.case.id,
    group: r.case.group,
    spec: r.case.spec,
    direct: way(r.direct),
    shim: way(r.shim),
    same: r.same,
  };
}

/** A path for messages and the report: relative to the repository when inside it. */
function display(path: string): string {
  const rel = relative(REPO, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split(sep).join("/") : path;
}

/** The report's suite label and source line (from SOURCE.md's commit, when it names one). */
async function context(suite: string, given: string | undefined): Promise<ReportContext> {
  const label = display(suite) === suite && given !== undefined ? given : display(suite);
  const source = await readFile(join(suite, "SOURCE.md"), "utf8").catch(() => "");
  const commit = /\b(WebAssembly\/wasi-testsuite)\b[\s\S]*?commit ([0-9a-f]{40})/.exec(source);
  return commit
    ? { suiteLabel: label, source: `${commit[1]} at ${commit[2]!.slice(0, 12)}` }
    : { suiteLabel: label };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { code, stdout } = await main(process.argv.slice(2), (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(stdout, () => process.exit(code));
}
