/**
 * Exit statuses (DESIGN decision 6) and the memory cap (decision 9) through the Task API of a shim process:
 * proc_exit(n) -> n & 0xff, return from _start -> 0, trap -> 134 with its message on stderr; a guest that grows
 * past CreateOptions.memory_limit cannot, and the shim keeps serving afterwards.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runTask, type ShimSuite, startShimSuite, stopShimSuite } from "./harness/task-kit.js";

describe("exit statuses and the memory cap, against a shim process", () => {
  let shim: ShimSuite["shim"];
  let task: ShimSuite["task"];
  let dir: string;
  let ref: ShimSuite["ref"];

  before(async () => {
    ({ shim, task, dir, ref } = await startShimSuite(["exit-code", "trap", "grow-memory", "print-env"]));
  });
  after(() => stopShimSuite({ shim, dir }));

  for (const [arg, status] of [
    ["0", 0],
    ["1", 1],
    ["255", 255],
    ["256", 0],
    ["-1", 255],
    ["257", 1],
  ] as const) {
    it(`proc_exit(${arg}) -> exit status ${status}`, async () => {
      const run = await runTask(task, `exit${arg}`, ref("exit-code"), { args: [arg] });
      assert.equal(run.exitStatus, status);
      assert.equal(run.stderr, "");
    });
  }

  it("return from _start (no proc_exit) -> 0", async () => {
    assert.equal((await runTask(task, "return", ref("exit-code"))).exitStatus, 0);
  });

  it("a trap -> 134, with what the guest wrote and the trap message on its stderr", async () => {
    const run = await runTask(task, "trap", ref("trap"));
    assert.equal(run.exitStatus, 134);
    assert.match(run.stderr, /^about to trap\n/);
    assert.match(run.stderr.slice("about to trap\n".length), /unreachable/i);
  });

  it("the environment of CreateOptions reaches the guest, and nothing of the shim's", async () => {
    const run = await runTask(task, "env", ref("print-env"), { env: ["GREETING=hi there", "EMPTY="] });
    assert.equal(run.exitStatus, 0);
    // Exactly these two: nothing of the shim's, and no PWD from the working directory (wasi-testsuite's
    // environ_sizes_get cases count the variables).
    assert.deepEqual(run.stdout.trim().split("\n").sort(), ["EMPTY=", "GREETING=hi there"]);
  });

  it("memory_limit 2 MiB: growing to 4 MiB fails inside the guest; the shim keeps serving", async () => {
    const capped = await runTask(task, "capped", ref("grow-memory"), {
      args: ["64"],
      memoryLimit: 2n * 1024n * 1024n,
    });
    assert.equal(capped.exitStatus, 1, `stdout: ${capped.stdout} stderr: ${capped.stderr}`);
    assert.match(capped.stdout, /^grow 64: failed at \d+ pages\n$/);
    // Within the cap, growing works.
    const small = await runTask(task, "small", ref("grow-memory"), {
      args: ["4"],
      memoryLimit: 2n * 1024n * 1024n,
    });
    assert.equal(small.exitStatus, 0, small.stdout);
    assert.match(small.stdout, /^grow 4: ok, now \d+ pages\n$/);
    // Without a cap the same growth succeeds, in the same shim.
    const free = await runTask(task, "free", ref("grow-memory"), { args: ["64"] });
    assert.equal(free.exitStatus, 0, free.stdout);
    assert.match(free.stdout, /^grow 64: ok, now \d+ pages\n$/);
    assert.equal((await runTask(task, "after", ref("exit-code"), { args: ["3"] })).exitStatus, 3);
  });
});
