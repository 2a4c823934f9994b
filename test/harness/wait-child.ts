/**
 * A client in its own process, for the disconnect tests: `node wait-child.js ADDRESS ID` calls Task.Wait on the
 * shim at ADDRESS, prints `waiting` once the call is sent, and the exit status if it ever returns. The test
 * SIGKILLs it mid-Wait: the shim sees the connection drop with the call in flight, as when `ctr` is killed.
 */
import { Task } from "../../src/gen/index.js";
import { closeClient, createClient } from "../../src/rpc/index.js";

const [address, id] = process.argv.slice(2);
if (!address || !id) {
  process.stderr.write("usage: wait-child ADDRESS ID\n");
  process.exit(2);
}
const task = createClient(Task, address);
await task.connect({ id: "" }, { waitForReady: true, timeoutMs: 10_000 });
const waiting = task.wait({ id });
process.stdout.write("waiting\n");
const { exitStatus } = await waiting;
process.stdout.write(`exit ${exitStatus}\n`);
closeClient(task);
