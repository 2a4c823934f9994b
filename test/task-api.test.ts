/**
 * The Task API end to end over gRPC against a real shim process: the life of a task (create, Wait before
 * Start, start, state, delete), pause/resume measured by Stats, exec, pids, the errors containerd relies on
 * (NotFound, AlreadyExists, Unimplemented) and the v3 service name. Synchronised on Wait and State only.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Status, Task, Tasks } from "../src/gen/index.js";
import { Code, ShimError } from "../src/internal/index.js";
import { metricsFigures } from "./harness/metrics.js";
import { imageOptions, type ShimSuite, startShimSuite, stopShimSuite, until } from "./harness/task-kit.js";

const PROCESS_SPEC_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process";

/** Rejects with a ShimError of `code`. */
function rejectsWith(p: Promise<unknown>, code: Code, message?: RegExp): Promise<void> {
  return assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ShimError, `not a ShimError: ${String(err)}`);
    assert.equal(Code[err.code], Code[code], err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** An exec's process spec, as containerd packs it. */
function processSpec(args: string[]) {
  return { typeUrl: PROCESS_SPEC_URL, value: Buffer.from(JSON.stringify({ args, env: [], cwd: "/" })) };
}

describe("Task API over gRPC, against a shim process", () => {
  let shim: ShimSuite["shim"];
  let task: ShimSuite["task"];
  let dir: string;
  let ref: ShimSuite["ref"];

  before(async () => {
    ({ shim, task, dir, ref } = await startShimSuite());
  });
  after(() => stopShimSuite({ shim, dir }));

  /** The events of container `id` once its `/tasks/delete` (of the init process) was logged. */
  async function eventsOf(id: string, lastPid: number) {
    await shim.event((e) => e.topic === "/tasks/delete" && e.containerId === id && (e.pid ?? 0) === lastPid);
    return shim.events().filter((e) => e.containerId === id);
  }

  async function cpu(id: string): Promise<bigint> {
    return metricsFigures((await task.stats({ id })).stats).cpuNanos;
  }

  it("create, Wait before Start, start, state CREATED/STOPPED, delete returns the exit, then NotFound", async () => {
    const out = join(dir, "life.out");
    const created = await task.create({
      id: "life",
      stdout: `file://${out}`,
      options: imageOptions(ref("echo-args"), { args: ["a", "b c"] }),
    });
    assert.equal(created.pid, 0);
    const before = await task.state({ id: "life" });
    assert.equal(Status[before.status], "CREATED");
    assert.equal(before.pid, 0);
    assert.equal(before.stdout, `file://${out}`);
    const waiting = task.wait({ id: "life" });
    const t0 = Date.now();
    const { pid } = await task.start({ id: "life" });
    assert.ok(pid > 0, `Start returned pid ${pid}`);
    const exit = await waiting;
    assert.equal(exit.exitStatus, 0);
    assert.ok(exit.exitedAt, "Wait has no exited_at");
    const exitedAt = timestampDate(exit.exitedAt).getTime();
    assert.ok(exitedAt >= t0 - 1000 && exitedAt <= Date.now() + 1000, `exited_at ${exitedAt} vs ${t0}`);
    assert.equal(await readFile(out, "utf8"), "/echo-args.wasm\na\nb c\n");
    const state = await task.state({ id: "life" });
    assert.equal(Status[state.status], "STOPPED");
    assert.equal(state.exitStatus, 0);
    assert.equal(state.pid, pid);
    assert.ok(state.exitedAt && timestampDate(state.exitedAt).getTime() === exitedAt);
    // A second Wait after the exit answers at once with the same status.
    assert.equal((await task.wait({ id: "life" })).exitStatus, 0);
    const deleted = await task.delete({ id: "life" });
    assert.equal(deleted.exitStatus, 0);
    assert.equal(deleted.pid, pid);
    assert.ok(deleted.exitedAt && timestampDate(deleted.exitedAt).getTime() === exitedAt);
    const events = await eventsOf("life", pid);
    assert.deepEqual(
      events.map((e) => e.topic),
      ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"],
    );
    assert.equal(events[1]!.pid, pid);
    assert.equal(events[2]!.pid, pid);
    assert.equal(events[2]!.exitStatus, 0);
    await rejectsWith(task.state({ id: "life" }), Code.NotFound, /life/);
    await rejectsWith(task.delete({ id: "life" }), Code.NotFound);
    await rejectsWith(task.wait({ id: "life" }), Code.NotFound);
  });

  it("state RUNNING, then PAUSED: a paused busy loop's CPU does not grow, and grows again after Resume", async () => {
    await task.create({ id: "spin", options: imageOptions(ref("busy-loop")) });
    const waiting = task.wait({ id: "spin" });
    const { pid } = await task.start({ id: "spin" });
    assert.equal(Status[(await task.state({ id: "spin" })).status], "RUNNING");
    // containerd's cgroups metrics, by the host's cgroup mode; one runner process (Node has a dozen threads).
    const stats = metricsFigures((await task.stats({ id: "spin" })).stats);
    assert.ok(stats.memoryBytes > 1_000_000n, `memory ${stats.memoryBytes}`);
    assert.ok(stats.pids >= 1n, `pids ${stats.pids}`);
    // The loop is spinning once it has used some CPU.
    const c0 = await cpu("spin");
    await until(async () => (await cpu("spin")) > c0 + 50_000_000n, 5000, "the busy loop to use CPU");

    await task.pause({ id: "spin" });
    assert.equal(Status[(await task.state({ id: "spin" })).status], "PAUSED");
    await new Promise((r) => setTimeout(r, 100)); // let SIGSTOP land; measuring needs time to pass
    const c1 = await cpu("spin");
    await new Promise((r) => setTimeout(r, 400));
    const c2 = await cpu("spin");
    assert.ok(c2 - c1 < 10_000_000n, `paused guest used ${(c2 - c1) / 1_000_000n} ms of CPU in 400 ms`);

    await task.resume({ id: "spin" });
    assert.equal(Status[(await task.state({ id: "spin" })).status], "RUNNING");
    await until(async () => (await cpu("spin")) > c2 + 50_000_000n, 5000, "the resumed loop to use CPU");

    await task.kill({ id: "spin", signal: 9 });
    assert.equal((await waiting).exitStatus, 137);
    await rejectsWith(task.stats({ id: "spin" }), Code.FailedPrecondition);
    assert.equal((await task.delete({ id: "spin" })).exitStatus, 137);
    const events = await eventsOf("spin", pid);
    assert.deepEqual(
      events.map((e) => e.topic),
      ["/tasks/create", "/tasks/start", "/tasks/paused", "/tasks/resumed", "/tasks/exit", "/tasks/delete"],
    );
    assert.equal(events[4]!.exitStatus, 137);
  });

  it("exec: another module in the same container with its own stdio, exec ids, pids, Delete of the exec", async () => {
    const initOut = join(dir, "init.out");
    const execOut = join(dir, "exec.out");
    await task.create({
      id: "box",
      stdout: `file://${initOut}`,
      options: imageOptions(ref("toolbox"), { args: ["60000"] }),
    });
    await rejectsWith(
      task.exec({ id: "box", execId: "early", spec: processSpec(["/echo-args.wasm"]) }),
      Code.FailedPrecondition,
    );
    const initWait = task.wait({ id: "box" });
    const { pid: initPid } = await task.start({ id: "box" });

    await task.exec({
      id: "box",
      execId: "hello",
      stdout: `file://${execOut}`,
      spec: processSpec(["/echo-args.wasm", "from", "exec"]),
    });
    await rejectsWith(
      task.exec({ id: "box", execId: "hello", spec: processSpec(["/echo-args.wasm"]) }),
      Code.AlreadyExists,
    );
    const execState = await task.state({ id: "box", execId: "hello" });
    assert.equal(Status[execState.status], "CREATED");
    assert.equal(execState.execId, "hello");
    const execWait = task.wait({ id: "box", execId: "hello" });
    const { pid: execPid } = await task.start({ id: "box", execId: "hello" });
    assert.ok(execPid > 0 && execPid !== initPid, `exec pid ${execPid}, init pid ${initPid}`);
    assert.equal((await execWait).exitStatus, 0);
    assert.equal(await readFile(execOut, "utf8"), "/echo-args.wasm\nfrom\nexec\n");
    assert.equal(Status[(await task.state({ id: "box", execId: "hello" })).status], "STOPPED");
    // The init process is untouched by its exec's exit.
    assert.equal(Status[(await task.state({ id: "box" })).status], "RUNNING");

    // A long-running exec shows in Pids beside the init process.
    await task.exec({ id: "box", execId: "spin", spec: processSpec(["/busy-loop.wasm"]) });
    const spinWait = task.wait({ id: "box", execId: "spin" });
    const { pid: spinPid } = await task.start({ id: "box", execId: "spin" });
    const pids = (await task.pids({ id: "box" })).processes.map((p) => p.pid).sort();
    assert.deepEqual(pids, [initPid, spinPid].sort());
    await rejectsWith(task.delete({ id: "box" }), Code.FailedPrecondition, /spin/);
    await task.kill({ id: "box", execId: "spin", signal: 9 });
    assert.equal((await spinWait).exitStatus, 137);
    assert.equal(Status[(await task.state({ id: "box" })).status], "RUNNING");

    const deleted = await task.delete({ id: "box", execId: "hello" });
    assert.equal(deleted.exitStatus, 0);
    assert.equal(deleted.pid, execPid);
    await rejectsWith(task.state({ id: "box", execId: "hello" }), Code.NotFound);
    assert.equal((await task.delete({ id: "box", execId: "spin" })).exitStatus, 137);
    assert.deepEqual(
      (await task.pids({ id: "box" })).processes.map((p) => p.pid),
      [initPid],
    );

    await task.kill({ id: "box", signal: 15 });
    assert.equal((await initWait).exitStatus, 143);
    assert.equal(await readFile(initOut, "utf8"), "sleeping 60000 ms\n");
    assert.equal((await task.delete({ id: "box" })).exitStatus, 143);
    const events = (await eventsOf("box", initPid)).map((e) => [
      e.topic,
      e.execId ?? "",
      e.pid ?? 0,
      e.exitStatus,
    ]);
    assert.deepEqual(events, [
      ["/tasks/create", "", 0, undefined],
      ["/tasks/start", "", initPid, undefined],
      ["/tasks/exec-added", "hello", 0, undefined],
      ["/tasks/exec-started", "hello", execPid, undefined],
      ["/tasks/exit", "hello", execPid, 0],
      ["/tasks/exec-added", "spin", 0, undefined],
      ["/tasks/exec-started", "spin", spinPid, undefined],
      ["/tasks/exit", "spin", spinPid, 137],
      ["/tasks/delete", "hello", execPid, undefined],
      ["/tasks/delete", "spin", spinPid, undefined],
      ["/tasks/exit", "", initPid, 143],
      ["/tasks/delete", "", initPid, undefined],
    ]);
  });

  it("Update caps a created task's memory; Connect reports the pids; Delete of a running task is refused", async () => {
    const out = join(dir, "upd.out");
    await task.create({
      id: "upd",
      stdout: `file://${out}`,
      options: imageOptions(ref("grow-memory"), { args: ["64"] }),
    });
    // containerd sends the OCI LinuxResources as JSON.
    const resources = { memory: { limit: 2 * 1024 * 1024 } };
    await task.update({
      id: "upd",
      resources: {
        typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
        value: Buffer.from(JSON.stringify(resources)),
      },
    });
    const waiting = task.wait({ id: "upd" });
    const { pid } = await task.start({ id: "upd" });
    assert.equal((await waiting).exitStatus, 1);
    assert.match(await readFile(out, "utf8"), /^grow 64: failed at \d+ pages\n$/);
    const connected = await task.connect({ id: "upd" });
    assert.equal(connected.shimPid, shim.pid);
    assert.equal(connected.taskPid, pid);
    await task.delete({ id: "upd" });

    await task.create({ id: "busy", options: imageOptions(ref("sleep-ms"), { args: ["60000"] }) });
    const busyWait = task.wait({ id: "busy" });
    await task.start({ id: "busy" });
    await rejectsWith(task.delete({ id: "busy" }), Code.FailedPrecondition);
    assert.equal(Status[(await task.state({ id: "busy" })).status], "RUNNING");
    await task.kill({ id: "busy", signal: 9 });
    assert.equal((await busyWait).exitStatus, 137);
    assert.equal((await task.delete({ id: "busy" })).exitStatus, 137);
  });

  it("unknown ids answer NotFound; a second Create of an id answers AlreadyExists", async () => {
    for (const [name, call] of [
      ["state", () => task.state({ id: "ghost" })],
      ["start", () => task.start({ id: "ghost" })],
      ["wait", () => task.wait({ id: "ghost" })],
      ["kill", () => task.kill({ id: "ghost", signal: 9 })],
      ["delete", () => task.delete({ id: "ghost" })],
      ["pids", () => task.pids({ id: "ghost" })],
      ["pause", () => task.pause({ id: "ghost" })],
      ["resume", () => task.resume({ id: "ghost" })],
      ["stats", () => task.stats({ id: "ghost" })],
      ["exec", () => task.exec({ id: "ghost", execId: "x", spec: processSpec(["/x.wasm"]) })],
    ] as const) {
      await rejectsWith(call(), Code.NotFound).catch((err: Error) => {
        throw new Error(`${name}: ${err.message}`);
      });
    }
    await task.create({ id: "twice", options: imageOptions(ref("echo-args")) });
    await rejectsWith(
      task.create({ id: "twice", options: imageOptions(ref("exit-code")) }),
      Code.AlreadyExists,
      /twice/,
    );
    await rejectsWith(task.state({ id: "twice", execId: "nope" }), Code.NotFound);
    // A created task that never started can be deleted.
    const deleted = await task.delete({ id: "twice" });
    assert.equal(deleted.pid, 0);
    await rejectsWith(task.state({ id: "twice" }), Code.NotFound);
  });

  it("Checkpoint answers Unimplemented with a reason; ResizePty of an unknown task NotFound", async () => {
    await rejectsWith(task.checkpoint({ id: "any", path: "/tmp/x" }), Code.Unimplemented, /checkpoint/i);
    await rejectsWith(task.resizePty({ id: "any", width: 80, height: 24 }), Code.NotFound, /any/);
  });

  it("serves containerd.task.v3.Task and nodewasi.v1.Tasks on the same socket", async () => {
    const v3 = shim.client(Task, { name: "containerd.task.v3.Task", timeoutMs: 30_000 });
    const out = join(dir, "v3.out");
    await v3.create({
      id: "v3",
      stdout: `file://${out}`,
      options: imageOptions(ref("exit-code"), { args: ["7"] }),
    });
    const listed = await shim.client(Tasks).list({ id: "v3" });
    assert.equal(listed.tasks.length, 1);
    assert.equal(listed.tasks[0]!.image, ref("exit-code"));
    assert.equal(Status[listed.tasks[0]!.status], "CREATED");
    const waiting = v3.wait({ id: "v3" });
    await v3.start({ id: "v3" });
    assert.equal((await waiting).exitStatus, 7);
    // The same task seen through the v2 name.
    assert.equal((await task.state({ id: "v3" })).exitStatus, 7);
    assert.equal((await v3.delete({ id: "v3" })).exitStatus, 7);
  });
});
