/**
 * One conformance run: every case of a suite, directly under node:wasi and through the shim, judged against
 * its spec and against each other. Cases run a few at a time.
 */
import { readFile } from "node:fs/promises";
import { runDirect } from "./direct.js";
import { ShimPath } from "./shim-path.js";
import { type ConformanceCase, loadSuite, type SkippedFolder } from "./suite.js";
import { rootTree } from "./tree.js";
import { type CaseResult, judge, sameOutcome } from "./verdict.js";

export interface ConformanceOptions {
  /** The suite folder (absolute or relative to the working directory). */
  suite: string;
  /** Cases in flight at once; 2 by default. */
  concurrency?: number;
  /** How long one run of a case may take, each way; 60 s by default. */
  timeoutMs?: number;
  /** Called as each case finishes, in completion order. */
  onCase?: (r: CaseResult) => void;
}

export interface ConformanceRun {
  results: CaseResult[];
  skipped: SkippedFolder[];
  /** Cases whose spec this runner cannot honour; not run. */
  unsupported: ConformanceCase[];
}

/** Runs the suite. Throws SuiteError for a bad suite, and when the registry or the shim cannot start. */
export async function runConformance(opts: ConformanceOptions): Promise<ConformanceRun> {
  const { cases, skipped } = await loadSuite(opts.suite);
  const runnable = cases.filter((c) => !c.unsupported);
  const unsupported = cases.filter((c) => c.unsupported);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const path = await ShimPath.start(timeoutMs);
  const results: CaseResult[] = [];
  try {
    let next = 0;
    const worker = async () => {
      while (next < runnable.length) {
        const c = runnable[next++]!;
        const r = await runCase(path, c, timeoutMs);
        results.push(r);
        opts.onCase?.(r);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  } finally {
    await path.stop();
  }
  const order = new Map(runnable.map((c, i) => [c.id, i]));
  results.sort((a, b) => order.get(a.case.id)! - order.get(b.case.id)!);
  return { results, skipped, unsupported };
}

async function runCase(path: ShimPath, c: ConformanceCase, timeoutMs: number): Promise<CaseResult> {
  const tree = await rootTree(c);
  const module = await readFile(c.module);
  const direct = await runDirect(c, tree, timeoutMs).then(
    (o) => judge(c.spec, o),
    (err: Error) => judge(c.spec, undefined, err.message),
  );
  const shim = await path.run(c, tree, module).then(
    (o) => judge(c.spec, o),
    (err: Error) => judge(c.spec, undefined, err.message),
  );
  return { case: c, direct, shim, same: sameOutcome(direct.outcome, shim.outcome) };
}
