import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { FakeImages } from "../../test/harness/fake-images.js";
import { FakeRunner } from "../../test/harness/fake-runner.js";
import { metricsFigures } from "../../test/harness/metrics.js";
import { unmountUnder } from "../../test/harness/mounts.js";
import { RecordingPublisher } from "../../test/harness/recording-publisher.js";
import { CreateOptionsSchema, CreateTaskRequestSchema, Status } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import { TaskService } from "./task-service.js";

const WASM = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
const ctx = () => ({ signal: new AbortController().signal, metadata: {} });
const code = (c: Code) => (e: unknown) => e instanceof ShimError && e.code === c;

describe("TaskService", () => {
  let dir: string;
  let runner: FakeRunner;
  let events: RecordingPublisher;
  let images: FakeImages;
  let svc: TaskService;
  let shutdowns = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-tasks-"));
    await mkdir(join(dir, "image"));
    await writeFile(join(dir, "image", "hello.wasm"), WASM);
  });
  after(async () => {
    unmountUnder(dir); // the tasks' overlay rootfs (as root): most tests here never delete their tasks
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    runner = new FakeRunner();
    events = new RecordingPublisher();
    images = new FakeImages(dir);
    svc = new TaskService({
      runner,
      images,
      events,
      stateDir: join(dir, "state"),
      onShutdown: () => shutdowns++,
    });
  });

  const createFromImage = (id: string, opts: Record<string, unknown> = {}) =>
    svc.create(
      create(CreateTaskRequestSchema, {
        id,
        stdout: "/dev/null",
        options: anyPack(CreateOptionsSchema, create(CreateOptionsSchema, { image: "oci:/x:1", ...opts })),
      }),
      ctx(),
    );

  it("runs a task from an image: create, wait before start, start, exit, delete, events in order", async () => {
    await createFromImage("t1", { args: ["a", "b"], env: ["A=user"] });
    assert.equal((await svc.state({ id: "t1", execId: "" } as never, ctx())).status, Status.CREATED);
    const waiting = svc.wait({ id: "t1", execId: "" } as never, ctx());
    const { pid } = await svc.start({ id: "t1", execId: "" } as never, ctx());
    const guest = runner.last();
    assert.equal(guest.pid, pid);
    assert.deepEqual(guest.spec.args, ["/hello.wasm", "a", "b"]);
    assert.equal(guest.spec.env.A, "user");
    assert.equal(guest.spec.preopens["/"], join(dir, "state", "tasks", "t1", "rootfs"));
    assert.equal((await svc.state({ id: "t1", execId: "" } as never, ctx())).status, Status.RUNNING);
    guest.finish(3);
    assert.equal((await waiting).exitStatus, 3);
    const state = await svc.state({ id: "t1", execId: "" } as never, ctx());
    assert.equal(state.status, Status.STOPPED);
    assert.equal(state.exitStatus, 3);
    const deleted = await svc.delete({ id: "t1", execId: "" } as never, ctx());
    assert.equal(deleted.exitStatus, 3);
    assert.deepEqual(events.topics(), ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]);
    await assert.rejects(svc.state({ id: "t1", execId: "" } as never, ctx()), code(Code.NotFound));
  });

  it("reports the exit before the runner releases the task's files, and Delete removes them only after", async () => {
    await createFromImage("rel");
    const waiting = svc.wait({ id: "rel", execId: "" } as never, ctx());
    await svc.start({ id: "rel", execId: "" } as never, ctx());
    const guest = runner.last();
    const release = guest.holdRelease();
    guest.finish(0);
    assert.equal((await waiting).exitStatus, 0);
    const bundle = join(dir, "state", "tasks", "rel");
    const deleting = svc.delete({ id: "rel", execId: "" } as never, ctx());
    // Held until released, however long: a Delete that did not wait would have finished within the second.
    const first = await Promise.race([
      deleting.then(() => "deleted"),
      new Promise((r) => setTimeout(r, 1000, "waiting")),
    ]);
    assert.equal(first, "waiting", "Delete waits for the release");
    assert.ok(existsSync(bundle), "the task's files stay while a sandbox may still have them bound");
    release();
    await deleting;
    assert.ok(!existsSync(bundle));
  });

  it("auto_remove (run --rm): the task deletes itself on exit; Wait answers once it is gone, its id free", async () => {
    await createFromImage("ar", { autoRemove: true });
    const waiting = svc.wait({ id: "ar", execId: "" } as never, ctx());
    await svc.start({ id: "ar", execId: "" } as never, ctx());
    runner.last().finish(7);
    assert.equal((await waiting).exitStatus, 7);
    // Nobody called Delete: the client that asked for --rm may have been killed.
    await assert.rejects(svc.state({ id: "ar", execId: "" } as never, ctx()), code(Code.NotFound));
    assert.deepEqual(events.topics(), ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]);
    assert.equal(existsSync(join(dir, "state", "tasks", "ar")), false, "its folder is gone");
    await createFromImage("ar");

    // A task killed before it started removes itself too; a Delete meanwhile shares that removal.
    await createFromImage("ark", { autoRemove: true });
    await svc.kill({ id: "ark", execId: "", signal: 9, all: false } as never, ctx());
    await new Promise((r) => setImmediate(r));
    await assert.rejects(svc.state({ id: "ark", execId: "" } as never, ctx()), code(Code.NotFound));
  });

  it("kills with any signal: exit status 128 + signo; a finished process answers NotFound", async () => {
    await createFromImage("k");
    await svc.start({ id: "k", execId: "" } as never, ctx());
    await svc.kill({ id: "k", execId: "", signal: 15, all: false } as never, ctx());
    assert.equal((await svc.wait({ id: "k", execId: "" } as never, ctx())).exitStatus, 143);
    await assert.rejects(
      svc.kill({ id: "k", execId: "", signal: 9, all: false } as never, ctx()),
      code(Code.NotFound),
    );
    await assert.rejects(
      svc.kill({ id: "k", execId: "", signal: 0, all: false } as never, ctx()),
      code(Code.InvalidArgument),
    );
  });

  it("kills a created task that never started", async () => {
    await createFromImage("c");
    await svc.kill({ id: "c", execId: "", signal: 9, all: false } as never, ctx());
    const state = await svc.state({ id: "c", execId: "" } as never, ctx());
    assert.equal(state.status, Status.STOPPED);
    assert.equal(state.exitStatus, 137);
    assert.equal(runner.guests.length, 0);
  });

  it("a Kill while Start is in flight ends what the runner started; the task stops only once that has ended", async () => {
    await createFromImage("sk");
    let ended!: () => void;
    runner.hold = { released: new Promise(() => {}), ended: new Promise((r) => (ended = r)) };
    try {
      const starting = svc.start({ id: "sk", execId: "" } as never, ctx());
      starting.catch(() => {});
      assert.equal(runner.holding, 1, "Start is in flight");
      const waiting = svc.wait({ id: "sk", execId: "" } as never, ctx());
      // Neither removed nor started twice meanwhile: either would leave a guest running with no task.
      await assert.rejects(
        svc.delete({ id: "sk", execId: "" } as never, ctx()),
        code(Code.FailedPrecondition),
      );
      await assert.rejects(
        svc.start({ id: "sk", execId: "" } as never, ctx()),
        code(Code.FailedPrecondition),
      );
      await svc.kill({ id: "sk", execId: "", signal: 15, all: false } as never, ctx());
      assert.equal((await svc.state({ id: "sk", execId: "" } as never, ctx())).status, Status.CREATED);
      ended();
      await assert.rejects(
        starting,
        (e: unknown) =>
          e instanceof ShimError &&
          e.code === Code.Aborted &&
          /task sk was killed \(SIGTERM\) before its guest started/.test(e.message),
      );
      assert.equal((await waiting).exitStatus, 143);
      const state = await svc.state({ id: "sk", execId: "" } as never, ctx());
      assert.equal(state.status, Status.STOPPED);
      assert.equal(state.exitStatus, 143);
      assert.equal(runner.guests.length, 0, "no guest ever ran");
      await svc.delete({ id: "sk", execId: "" } as never, ctx());
      assert.deepEqual(events.topics(), ["/tasks/create", "/tasks/exit", "/tasks/delete"]);
    } finally {
      runner.hold = undefined;
    }
  });

  it("refuses bad transitions and names both states", async () => {
    await createFromImage("s");
    await assert.rejects(svc.pause({ id: "s" } as never, ctx()), (e: unknown) => {
      assert.ok(e instanceof ShimError);
      assert.equal(e.code, Code.FailedPrecondition);
      assert.match(e.message, /invalid state transition: created => paused/);
      return true;
    });
    // A created task has no guest to resume: it stays created (it was reported RUNNING, with pid 0).
    await assert.rejects(
      svc.resume({ id: "s" } as never, ctx()),
      /invalid state transition: created => running/,
    );
    assert.equal((await svc.state({ id: "s", execId: "" } as never, ctx())).status, Status.CREATED);
    await svc.start({ id: "s", execId: "" } as never, ctx());
    await assert.rejects(svc.start({ id: "s", execId: "" } as never, ctx()), /running => running/);
    await assert.rejects(svc.delete({ id: "s", execId: "" } as never, ctx()), /running => deleted/);
    await svc.pause({ id: "s" } as never, ctx());
    assert.equal(runner.last().paused, true);
    assert.equal((await svc.state({ id: "s", execId: "" } as never, ctx())).status, Status.PAUSED);
    await svc.resume({ id: "s" } as never, ctx());
    assert.equal(runner.last().paused, false);
    assert.deepEqual(events.topics().slice(-2), ["/tasks/paused", "/tasks/resumed"]);
  });

  it("answers NotFound, AlreadyExists and Unimplemented as containerd expects", async () => {
    await assert.rejects(svc.state({ id: "nope", execId: "" } as never, ctx()), code(Code.NotFound));
    await createFromImage("dup");
    await assert.rejects(createFromImage("dup"), code(Code.AlreadyExists));
    await assert.rejects(svc.checkpoint({ id: "dup" } as never, ctx()), code(Code.Unimplemented));
    assert.deepEqual(
      await svc.resizePty({ id: "dup", execId: "", width: 80, height: 24 } as never, ctx()),
      {},
    );
    await assert.rejects(svc.resizePty({ id: "none", execId: "" } as never, ctx()), code(Code.NotFound));
  });

  it("execs another module in the container, with its own id and events", async () => {
    await createFromImage("e");
    await svc.start({ id: "e", execId: "" } as never, ctx());
    const spec = {
      typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process",
      value: Buffer.from(JSON.stringify({ args: ["/hello.wasm", "x"], env: ["E=1"] })),
    };
    await svc.exec(
      { id: "e", execId: "x1", spec, stdout: "", stdin: "", stderr: "", terminal: false } as never,
      ctx(),
    );
    await assert.rejects(svc.exec({ id: "e", execId: "x1", spec } as never, ctx()), code(Code.AlreadyExists));
    await svc.start({ id: "e", execId: "x1" } as never, ctx());
    const exec = runner.last();
    assert.deepEqual(exec.spec.args, ["/hello.wasm", "x"]);
    assert.equal(exec.spec.env.E, "1");
    assert.equal((await svc.pids({ id: "e" } as never, ctx())).processes?.length, 2);
    exec.finish(0);
    assert.equal((await svc.wait({ id: "e", execId: "x1" } as never, ctx())).exitStatus, 0);
    await svc.delete({ id: "e", execId: "x1" } as never, ctx());
    assert.deepEqual(
      events.topics().filter((t) => t.startsWith("/tasks/exec")),
      ["/tasks/exec-added", "/tasks/exec-started"],
    );
    // The deleted exec is no longer measured: the fake's memory figure is 1024 * pid.
    const stats = metricsFigures((await svc.stats({ id: "e" } as never, ctx())).stats);
    assert.equal(stats.memoryBytes, BigInt(1024 * runner.guests[0]!.pid));
  });

  it("Stats adds up every live process of the task as containerd's cgroups metrics, v1 or v2 as asked", async () => {
    for (const mode of ["v1", "v2"] as const) {
      const s = new TaskService({ runner, images, events, stateDir: join(dir, "state"), cgroupMode: mode });
      const id = `m${mode}`;
      await s.create(
        create(CreateTaskRequestSchema, {
          id,
          stdout: "/dev/null",
          options: anyPack(CreateOptionsSchema, create(CreateOptionsSchema, { image: "oci:/x:1" })),
        }),
        ctx(),
      );
      await assert.rejects(
        s.stats({ id } as never, ctx()),
        code(Code.FailedPrecondition),
        "created: nothing runs",
      );
      await s.start({ id, execId: "" } as never, ctx());
      const init = runner.last();
      const spec = { typeUrl: "x", value: Buffer.from(JSON.stringify({ args: ["/hello.wasm"] })) };
      await s.exec(
        { id, execId: "x", spec, stdout: "", stdin: "", stderr: "", terminal: false } as never,
        ctx(),
      );
      await s.start({ id, execId: "x" } as never, ctx());
      const exec = runner.last();
      const stats = metricsFigures((await s.stats({ id } as never, ctx())).stats);
      assert.equal(stats.mode, mode);
      assert.equal(stats.memoryBytes, BigInt(1024 * (init.pid + exec.pid)));
      assert.equal(stats.cpuNanos, 6000n);
      assert.equal(stats.pids, 14n, "threads of both processes");
      // A paused task is still measured.
      await s.pause({ id } as never, ctx());
      assert.equal(metricsFigures((await s.stats({ id } as never, ctx())).stats).mode, mode);
      await s.kill({ id, execId: "", signal: 9, all: true } as never, ctx());
      await s.wait({ id, execId: "" } as never, ctx());
      await assert.rejects(s.stats({ id } as never, ctx()), code(Code.FailedPrecondition), "stopped");
    }
  });

  /** Creates and starts task `id` with one exec `x` running beside its init; returns both fake guests. */
  const startWithExec = async (id: string) => {
    await createFromImage(id);
    await svc.start({ id, execId: "" } as never, ctx());
    const init = runner.last();
    const spec = { typeUrl: "x", value: Buffer.from(JSON.stringify({ args: ["/hello.wasm"] })) };
    await svc.exec(
      { id, execId: "x", spec, stdout: "", stdin: "", stderr: "", terminal: false } as never,
      ctx(),
    );
    await svc.start({ id, execId: "x" } as never, ctx());
    return { init, exec: runner.last() };
  };

  it("a Delete while one waits for the execs shares it: one answer, one /tasks/delete", async () => {
    const { init, exec } = await startWithExec("dd");
    exec.kill = (signal) => {
      exec.signals.push(signal);
    };
    init.finish(0);
    await svc.wait({ id: "dd", execId: "" } as never, ctx());
    const first = svc.delete({ id: "dd", execId: "" } as never, ctx());
    const second = svc.delete({ id: "dd", execId: "" } as never, ctx());
    await new Promise((r) => setTimeout(r, 50));
    exec.finish(137);
    assert.equal((await first).exitStatus, 0);
    assert.equal((await second).exitStatus, 0);
    assert.equal(events.topics().filter((t) => t === "/tasks/delete").length, 1);
  });

  it("Stats leaves out an exec whose runner is gone but whose exit is not reported yet, not the whole task", async () => {
    const { init, exec } = await startWithExec("race");
    exec.gone = true; // ChildRunner: the runner exited, its stdio is still flushing
    const stats = metricsFigures((await svc.stats({ id: "race" } as never, ctx())).stats);
    assert.equal(stats.memoryBytes, BigInt(1024 * init.pid));
    init.gone = true;
    await assert.rejects(svc.stats({ id: "race" } as never, ctx()), code(Code.FailedPrecondition));
  });

  it("Stats' CPU and faults never go down when an exec ends: the ended exec's last figures stay counted", async () => {
    const { exec } = await startWithExec("mono");
    assert.equal(metricsFigures((await svc.stats({ id: "mono" } as never, ctx())).stats).cpuNanos, 6000n);
    exec.finish(0);
    await svc.wait({ id: "mono", execId: "x" } as never, ctx());
    await svc.delete({ id: "mono", execId: "x" } as never, ctx());
    const after = metricsFigures((await svc.stats({ id: "mono" } as never, ctx())).stats);
    assert.equal(after.cpuNanos, 6000n, "init's 3000 ns now plus the exec's last 3000 ns");
    assert.equal(after.pids, 7n, "only the init's threads are current");
  });

  it("Pause and Resume stop and continue the whole container, its execs too (PAUSED, as runc reports them)", async () => {
    const { init, exec } = await startWithExec("frozen");
    await svc.pause({ id: "frozen" } as never, ctx());
    assert.deepEqual([init.paused, exec.paused], [true, true]);
    const state = (execId: string) => svc.state({ id: "frozen", execId } as never, ctx());
    assert.equal((await state("x")).status, Status.PAUSED);
    await svc.resume({ id: "frozen" } as never, ctx());
    assert.deepEqual([init.paused, exec.paused], [false, false]);
    assert.equal((await state("x")).status, Status.RUNNING);
    // An exec that ended while paused is left alone; the others come back.
    await svc.pause({ id: "frozen" } as never, ctx());
    exec.kill("SIGKILL");
    await svc.wait({ id: "frozen", execId: "x" } as never, ctx());
    await svc.resume({ id: "frozen" } as never, ctx());
    assert.equal((await state("")).status, Status.RUNNING);
    assert.equal((await state("x")).status, Status.STOPPED);
  });

  it("execs end with their init, as under runc: each gets SIGKILL, and Delete of the init then succeeds", async () => {
    const { init, exec } = await startWithExec("fall");
    init.finish(0);
    assert.equal((await svc.wait({ id: "fall", execId: "x" } as never, ctx())).exitStatus, 137);
    assert.deepEqual(exec.signals, [9]);
    assert.equal((await svc.delete({ id: "fall", execId: "" } as never, ctx())).exitStatus, 0);
    assert.deepEqual(
      events.topics().filter((t) => t === "/tasks/exit"),
      ["/tasks/exit", "/tasks/exit"],
      "the exec's exit and the init's",
    );
  });

  it("Delete of an exited init waits for its execs' exits while they flush, and names one that never ends", async () => {
    const { init, exec } = await startWithExec("slow");
    // The exec's runner is killed, but (like a runner whose output is still flushing) reports its exit later.
    exec.kill = (signal) => {
      exec.signals.push(signal);
    };
    init.finish(0);
    await svc.wait({ id: "slow", execId: "" } as never, ctx());
    const deleting = svc.delete({ id: "slow", execId: "" } as never, ctx());
    await new Promise((r) => setTimeout(r, 50));
    exec.finish(137);
    assert.equal((await deleting).exitStatus, 0);

    // One that never ends: Delete says which exec holds the task, after the grace (5 s).
    const stuck = await startWithExec("stuck");
    stuck.exec.kill = () => {};
    stuck.init.finish(0);
    await svc.wait({ id: "stuck", execId: "" } as never, ctx());
    await assert.rejects(
      svc.delete({ id: "stuck", execId: "" } as never, ctx()),
      (err: unknown) =>
        code(Code.FailedPrecondition)(err) && /still has running execs \(x\)/.test(String(err)),
    );
  });

  it("kills every process with all=true", async () => {
    await createFromImage("all");
    await svc.start({ id: "all", execId: "" } as never, ctx());
    const spec = { typeUrl: "x", value: Buffer.from(JSON.stringify({ args: ["/hello.wasm"] })) };
    await svc.exec(
      { id: "all", execId: "x", spec, stdout: "", stdin: "", stderr: "", terminal: false } as never,
      ctx(),
    );
    await svc.start({ id: "all", execId: "x" } as never, ctx());
    await svc.kill({ id: "all", execId: "", signal: 9, all: true } as never, ctx());
    assert.deepEqual(
      runner.guests.map((g) => g.signals),
      [[9], [9]],
    );
  });

  it("shuts down only when no task is left", async () => {
    const before = shutdowns;
    await createFromImage("sd");
    await svc.shutdown({ id: "sd", now: false } as never, ctx());
    assert.equal(shutdowns, before);
    await svc.delete({ id: "sd", execId: "" } as never, ctx());
    await svc.shutdown({ id: "sd", now: false } as never, ctx());
    assert.equal(shutdowns, before + 1);
  });

  it("a Wait whose caller goes away stops waiting", async () => {
    await createFromImage("w");
    const ac = new AbortController();
    const waiting = svc.wait({ id: "w", execId: "" } as never, { signal: ac.signal, metadata: {} });
    ac.abort(new Error("client went away"));
    await assert.rejects(waiting, /client went away/);
  });

  it("creates from a runtime-spec bundle: args[0] in the rootfs, mounts as preopens, memory limit", async () => {
    const bundle = join(dir, "bundle");
    const data = join(dir, "data");
    await mkdir(join(bundle, "rootfs", "app"), { recursive: true });
    await mkdir(data, { recursive: true });
    await writeFile(join(bundle, "rootfs", "app", "main.wasm"), WASM);
    await writeFile(join(bundle, "rootfs", "app", "not-wasm"), "#!/bin/sh\n");
    await symlink("main.wasm", join(bundle, "rootfs", "app", "alias.wasm"));
    const spec = (args: string[]) => ({
      process: { args, env: ["PATH=/app"], cwd: "/" },
      root: { path: "rootfs" },
      mounts: [
        { destination: "/data", source: data, type: "bind", options: ["rbind"] },
        { destination: "/proc", source: "proc", type: "proc" },
      ],
      linux: { resources: { memory: { limit: 8 * 1024 * 1024 } } },
    });
    await writeFile(join(bundle, "config.json"), JSON.stringify(spec(["main.wasm#run", "x"])));
    // containerd over ttrpc names its namespace in the call's metadata: a binary:// logger gets it.
    const ttrpcCtx = { ...ctx(), metadata: { "containerd-namespace-ttrpc": ["k8s.io"] } };
    await svc.create(create(CreateTaskRequestSchema, { id: "b", bundle }), ttrpcCtx);
    await svc.start({ id: "b", execId: "" } as never, ctx());
    const guest = runner.last();
    assert.equal(guest.spec.id, "b");
    assert.equal(guest.spec.namespace, "k8s.io");
    assert.deepEqual(guest.spec.args, ["/app/main.wasm", "x"]);
    assert.equal(guest.spec.entry, "run");
    assert.deepEqual(guest.spec.preopens, { "/data": data, "/": join(bundle, "rootfs") });
    assert.equal(guest.spec.memoryLimit, 8 * 1024 * 1024);
    await writeFile(join(bundle, "config.json"), JSON.stringify(spec(["/app/not-wasm"])));
    await assert.rejects(
      svc.create(create(CreateTaskRequestSchema, { id: "b2", bundle }), ctx()),
      (e: unknown) =>
        e instanceof ShimError &&
        e.code === Code.FailedPrecondition &&
        /not a WebAssembly module/.test(e.message),
    );
    await writeFile(join(bundle, "config.json"), JSON.stringify(spec(["/nowhere.wasm"])));
    await assert.rejects(
      svc.create(create(CreateTaskRequestSchema, { id: "b3", bundle }), ctx()),
      code(Code.NotFound),
    );
  });
});
