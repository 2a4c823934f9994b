/**
 * A process that holds a lock file, for the lock tests: `node lock-holder.js PATH` takes the lock at PATH with
 * src/oci/store/lock.ts, prints `held` once it has it, and releases it when its stdin ends (or exits without
 * releasing on SIGKILL, as a crashed holder does).
 */
import { acquireLock } from "../../src/oci/store/lock.js";

const [path] = process.argv.slice(2);
if (!path) {
  process.stderr.write("usage: lock-holder PATH\n");
  process.exit(2);
}
const lock = await acquireLock(path, { signal: AbortSignal.timeout(30_000) });
process.stdout.write("held\n");
process.stdin.resume();
process.stdin.on("end", () => {
  void lock?.release().then(() => process.exit(0));
});
