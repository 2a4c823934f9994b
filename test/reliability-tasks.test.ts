/**
 * Reliability of one shim process under faults and load (issue 6, item 2): a runner killed under a running
 * task, a client that disconnects during Wait (closed in process, and a client process SIGKILLed), two clients
 * waiting on one task, and 100 tasks started at once. Each case asserts what survived: the shim keeps serving,
 * the statuses are right, nothing is left behind (fds, children, task folders).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Status, Task } from "../src/gen/index.js";
import { closeClient, createClient } from "../src/rpc/index.js";
import { recordFigures } from "./harness/reliability.js";
import {
  imageOptions,
  runTask,
  type ShimSuite,
  startShimSuite,
  stopShimSuite,
  until,
} from "./harness/task-kit.js";

const WAIT_CHILD = join(dirname(fileURLToPath(import.meta.url)), "harness", "wait-child.js");
const POOL = 2;

describe("faults and load against one shim process", () => {
  let shim: ShimSuite["shim"];
  let task: ShimSuite["task"];
  let dir: string;
  let ref: ShimSuite["ref"];

  before(async () => {
    ({ shim, task, dir, ref } = await startShimSuite(
      ["exit-code", "sleep-ms"],
      { isolation: "none", pool: POOL },
      120_000,
    ));
  });
  after(() => stopShimSuite({ shim, dir }));

  /** Creates and starts a guest sleeping `ms`; returns its pid and a Wait issued before Start. */
  async function sleeper(id: string, ms = 60_000) {
    await task.create({ id, options: imageOptions(ref("sleep-ms"), { args: [String(ms)] }) });
    const waiting = task.wait({ id });
    const { pid } = await task.start({ id });
    return { pid, waiting };
  }

  /** The shim at rest: its warm pool full and its fds back to `fds` (or what they are now). */
  async function atRest(fds?: number) {
    await until(
      () => shim.childCount() === POOL && (fds === undefined || shim.fdCount() <= fds),
      10_000,
      `the shim at rest (children ${shim.childCount()}, fds ${shim.fdCount()}, want ${POOL} and ${fds})`,
    );
    return shim.fdCount();
  }

  it("a runner SIGKILLed under a running task: Wait says 137, the shim serves on, the pool refills", async (t) => {
    await runTask(task, "warm", ref("exit-code")); // the image is cached, the connection up
    const fds = await atRest();
    const { pid, waiting } = await sleeper("victim");
    assert.ok(shim.children().includes(pid), "the task's pid is a runner of the shim");
    process.kill(pid, "SIGKILL");
    assert.equal((await waiting).exitStatus, 137);
    assert.equal(Status[(await task.state({ id: "victim" })).status], "STOPPED");
    assert.equal((await task.delete({ id: "victim" })).exitStatus, 137);
    // An idle warm runner killed too: the shim replaces it.
    const idle = shim.children()[0]!;
    process.kill(idle, "SIGKILL");
    await until(() => !shim.children().includes(idle), 5000, `warm runner ${idle} reaped`);
    const after = await runTask(task, "after", ref("exit-code"), { args: ["7"] });
    assert.equal(after.exitStatus, 7);
    await atRest(fds);
    recordFigures(t, {
      "runners killed": 2,
      "Wait status": 137,
      "next task status": 7,
      "fds after": "as before",
      "warm pool": `${POOL} of ${POOL}`,
    });
  });

  it("a client closing its connection during Wait, then a client process SIGKILLed during Wait", async (t) => {
    const fds = await atRest();
    const { waiting } = await sleeper("orphan");
    // In process: a second client waits, then its channel is cancelled and closed.
    const other = createClient(Task, shim.address);
    const abort = new AbortController();
    const gone = other.wait({ id: "orphan" }, { signal: abort.signal });
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    closeClient(other);
    await assert.rejects(gone);
    // Another process: waiting when it is killed.
    const child = spawn(process.execPath, [WAIT_CHILD, shim.address, "orphan"], { stdio: "pipe" });
    const said = await new Promise<string>((resolve) => child.stdout.once("data", (d) => resolve(String(d))));
    assert.equal(said.trim(), "waiting");
    await until(() => shim.fdCount() > fds, 5000, "the child's connection at the shim");
    await new Promise((r) => setTimeout(r, 200)); // the Wait reaches the server
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // The task did not notice; the shim dropped both connections.
    assert.equal(Status[(await task.state({ id: "orphan" })).status], "RUNNING");
    await until(() => shim.fdCount() <= fds + 2, 5000, `the shim's fds back near ${fds}`).catch(() =>
      assert.fail(`the shim holds ${shim.fdCount()} fds, ${fds} before the clients came`),
    );
    await task.kill({ id: "orphan", signal: 15 });
    assert.equal((await waiting).exitStatus, 143);
    assert.equal((await task.delete({ id: "orphan" })).exitStatus, 143);
    await atRest(fds);
    recordFigures(t, {
      "clients dropped mid-Wait": 2,
      "task state after": "RUNNING",
      "remaining Wait": 143,
      "fds after": "as before",
    });
  });

  it("two clients on two connections waiting on one task get the same exit", async (t) => {
    const { waiting } = await sleeper("shared", 300);
    const second = createClient(Task, shim.address);
    try {
      const [a, b] = await Promise.all([waiting, second.wait({ id: "shared" })]);
      assert.equal(a.exitStatus, 0);
      assert.equal(b.exitStatus, 0);
      assert.deepEqual(b.exitedAt, a.exitedAt, "both see the same exit time");
      // A Wait after the exit answers at once with the same.
      const late = await second.wait({ id: "shared" });
      assert.deepEqual(late, b);
    } finally {
      closeClient(second);
    }
    await task.delete({ id: "shared" });
    recordFigures(t, { waiters: 3, "statuses agree": true, "exit times agree": true });
  });

  it("100 tasks started at once, each with its own exit status, none left behind", async (t) => {
    const N = 100;
    const runs = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        runTask(task, `load-${i}`, ref("exit-code"), { args: [String(i)] }),
      ),
    );
    assert.deepEqual(
      runs.map((r) => r.exitStatus),
      Array.from({ length: N }, (_, i) => i),
    );
    assert.equal(new Set(runs.map((r) => r.pid)).size, N, "pids are not distinct");
    const left = await readdir(shim.tasksDir).catch(() => []);
    assert.deepEqual(left, [], "task folders left");
    await atRest();
    recordFigures(t, { tasks: N, "right exit statuses": N, "distinct pids": N, "task folders left": 0 });
  });
});
