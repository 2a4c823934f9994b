/**
 * Runs one pull in its own process, for the concurrency tests: `node pull-child.js REF ROOT` prints the
 * PullResult as JSON on stdout and exits 0, or prints `{ "error": message, "code": n }` and exits 1.
 */
import { ShimError } from "../../src/internal/index.js";
import { pull } from "../../src/oci/pull/pull.js";

const [ref, root] = process.argv.slice(2);
if (!ref || !root) {
  process.stderr.write("usage: pull-child REF ROOT\n");
  process.exit(2);
}
try {
  const result = await pull(ref, { root, plainHttp: true });
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (err) {
  const e = ShimError.from(err);
  process.stdout.write(`${JSON.stringify({ error: e.message, code: e.code })}\n`);
  process.exitCode = 1;
}
