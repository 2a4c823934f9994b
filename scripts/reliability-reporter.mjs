/**
 * A node:test reporter for `npm run reliability`: one JSON line per test result (`pass`, `fail`, or `skip` with
 * its reason) and per diagnostic, each with the file and line of the test it belongs to, so the runner can join
 * a test's figures (test/harness/reliability.ts) to its result.
 */
export default async function* reliabilityReporter(source) {
  for await (const event of source) {
    const d = event.data ?? {};
    const where = { file: d.file, line: d.line, column: d.column };
    if (event.type === "test:pass" || event.type === "test:fail") {
      const result = event.type === "test:fail" ? "fail" : d.skip !== undefined ? "skip" : "pass";
      const reason = typeof d.skip === "string" ? d.skip : undefined;
      const error =
        event.type === "test:fail" ? String(d.details?.error?.message ?? d.details?.error ?? "") : undefined;
      yield `${JSON.stringify({ kind: "result", name: d.name, result, reason, error, ...where })}\n`;
    } else if (event.type === "test:diagnostic" && d.file) {
      yield `${JSON.stringify({ kind: "diagnostic", message: d.message, ...where })}\n`;
    }
  }
}
