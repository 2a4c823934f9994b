/**
 * Kill over gRPC against a shim process: SIGTERM, SIGKILL and SIGINT end a task with 128 + signo, and Kill
 * ends it within 1 s whatever the guest is doing: spinning, blocked reading an empty stdin FIFO, sleeping in
 * poll_oneoff, paused, or looping in its module's start function. The guest is known to be in that state by
 * what it wrote to a stdout FIFO first. A Kill while Start is still in flight ends the runner too.
 */
import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import type { Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Status } from "../src/gen/index.js";
import { Code, type ShimError } from "../src/internal/index.js";
import {
  fifoReader,
  imageOptions,
  mkfifo,
  type ShimSuite,
  startShimSuite,
  stopShimSuite,
  type TestModule,
  until,
} from "./harness/task-kit.js";

/** Resolves with everything read from `socket` once it contains `text`. */
function readUntil(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.includes(text)) {
        socket.off("data", onData);
        resolve(got);
      }
    };
    socket.on("data", onData);
    socket.once("end", () => reject(new Error(`stdout ended before ${JSON.stringify(text)}: ${got}`)));
  });
}

describe("Kill, against a shim process", () => {
  let shim: ShimSuite["shim"];
  let task: ShimSuite["task"];
  let dir: string;
  let ref: ShimSuite["ref"];
  let n = 0;

  before(async () => {
    ({ shim, task, dir, ref } = await startShimSuite(["busy-loop", "sleep-ms", "cat-stdin", "start-loop"]));
  });
  after(() => stopShimSuite({ shim, dir }));

  /**
   * Creates and starts `module` with stdout on a FIFO, and resolves once the guest has written `marker`:
   * the id, its Wait and the reader.
   */
  async function started(module: TestModule, args: string[], marker: string, stdin = "") {
    const id = `${module}-${++n}`;
    const fifo = join(dir, `${id}.out`);
    mkfifo(fifo);
    const reader = await fifoReader(fifo);
    await task.create({ id, stdin, stdout: fifo, options: imageOptions(ref(module), { args }) });
    const waiting = task.wait({ id });
    const printed = marker ? readUntil(reader, marker) : Promise.resolve("");
    await task.start({ id });
    await printed;
    reader.resume();
    return { id, waiting, reader };
  }

  /** Sends `signal` and returns the exit status and how long Wait took to answer after it. */
  async function killAndTime(id: string, waiting: Promise<{ exitStatus: number }>, signal: number) {
    const t0 = performance.now();
    await task.kill({ id, signal });
    const { exitStatus } = await waiting;
    return { exitStatus, ms: performance.now() - t0 };
  }

  for (const [signal, name, status] of [
    [15, "SIGTERM", 143],
    [9, "SIGKILL", 137],
    [2, "SIGINT", 130],
  ] as const) {
    it(`${name} ends a busy loop within 1 s with status ${status}`, async () => {
      const { id, waiting, reader } = await started("busy-loop", [], "spinning");
      const { exitStatus, ms } = await killAndTime(id, waiting, signal);
      assert.equal(exitStatus, status);
      assert.ok(ms < 1000, `${name} took ${ms.toFixed(0)} ms`);
      const state = await task.state({ id });
      assert.equal(Status[state.status], "STOPPED");
      assert.equal(state.exitStatus, status);
      assert.equal((await task.delete({ id })).exitStatus, status);
      reader.destroy();
    });
  }

  it("SIGTERM ends a guest sleeping in poll_oneoff (sleep-ms 60000) within 1 s", async () => {
    const { id, waiting, reader } = await started("sleep-ms", ["60000"], "sleeping 60000 ms");
    const { exitStatus, ms } = await killAndTime(id, waiting, 15);
    assert.equal(exitStatus, 143);
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
    await task.delete({ id });
    reader.destroy();
  });

  it("SIGTERM ends a guest blocked reading an empty stdin FIFO (write end held open) within 1 s", async () => {
    const stdin = join(dir, "stdin.fifo");
    mkfifo(stdin);
    // The runner opens the read end when the task starts; this open completes then, and stays open.
    const writer = open(stdin, "w");
    const { id, waiting, reader } = await started("cat-stdin", [], "", stdin);
    const w = await writer;
    try {
      assert.equal(Status[(await task.state({ id })).status], "RUNNING");
      const { exitStatus, ms } = await killAndTime(id, waiting, 15);
      assert.equal(exitStatus, 143);
      assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
      await task.delete({ id });
    } finally {
      await w.close();
      reader.destroy();
    }
  });

  it("SIGTERM ends a paused task within 1 s", async () => {
    const { id, waiting, reader } = await started("busy-loop", [], "spinning");
    await task.pause({ id });
    assert.equal(Status[(await task.state({ id })).status], "PAUSED");
    const { exitStatus, ms } = await killAndTime(id, waiting, 15);
    assert.equal(exitStatus, 143);
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
    await task.delete({ id });
    reader.destroy();
  });

  it("a start function that never returns: Start returns with the task RUNNING, and SIGKILL ends it within 1 s", async () => {
    const { id, waiting, reader } = await started("start-loop", [], "in start");
    assert.equal(Status[(await task.state({ id })).status], "RUNNING");
    const { exitStatus, ms } = await killAndTime(id, waiting, 9);
    assert.equal(exitStatus, 137);
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
    await task.delete({ id });
    reader.destroy();
  });

  it("Kill of a created task stops it; of a stopped one answers NotFound; signal 0 is refused", async () => {
    await task.create({ id: "unstarted", options: imageOptions(ref("busy-loop")) });
    const waiting = task.wait({ id: "unstarted" });
    await assert.rejects(
      task.kill({ id: "unstarted", signal: 0 }),
      (e: ShimError) => e.code === Code.InvalidArgument,
    );
    await task.kill({ id: "unstarted", signal: 9 });
    assert.equal((await waiting).exitStatus, 137);
    assert.equal(Status[(await task.state({ id: "unstarted" })).status], "STOPPED");
    await assert.rejects(
      task.kill({ id: "unstarted", signal: 9 }),
      (e: ShimError) => e.code === Code.NotFound,
    );
    await task.delete({ id: "unstarted" });
  });

  it("Kill with all=true ends the init process and its execs", async () => {
    const { id, waiting, reader } = await started("busy-loop", [], "spinning");
    const spec = {
      typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process",
      value: Buffer.from(JSON.stringify({ args: ["/busy-loop.wasm"] })),
    };
    await task.exec({ id, execId: "e", spec });
    const execWaiting = task.wait({ id, execId: "e" });
    await task.start({ id, execId: "e" });
    await task.kill({ id, signal: 9, all: true });
    assert.equal((await waiting).exitStatus, 137);
    assert.equal((await execWaiting).exitStatus, 137);
    await task.delete({ id, execId: "e" });
    await task.delete({ id });
    reader.destroy();
  });
});

describe("Kill while Start is in flight, against a shim process", () => {
  let suite: ShimSuite;
  // No warm pool: the runner a Start spawns is the shim's only new child.
  before(async () => {
    suite = await startShimSuite(["exit-code"], { pool: 0 });
  });
  after(() => stopShimSuite(suite));

  it("a Start blocked opening a stdout FIFO nobody reads: Kill ends its runner, then Start fails and Wait gives 143", async () => {
    const { shim, task, dir, ref } = suite;
    const fifo = join(dir, "unread.out");
    mkfifo(fifo);
    await task.create({ id: "blocked", stdout: fifo, options: imageOptions(ref("exit-code")) });
    const waiting = task.wait({ id: "blocked" });
    const before = new Set(shim.children());
    const starting = task.start({ id: "blocked" });
    starting.catch(() => {});
    const spawned = () => shim.children().filter((p) => !before.has(p));
    await until(() => spawned().length > 0, 60_000, "the runner to be spawned");
    const runner = spawned();
    await new Promise((r) => setTimeout(r, 300)); // let it reach the FIFO
    assert.equal(Status[(await task.state({ id: "blocked" })).status], "CREATED", "Start has not returned");
    await task.kill({ id: "blocked", signal: 15 });
    await assert.rejects(
      starting,
      (e: ShimError) => e.code === Code.Aborted && /before its guest started/.test(e.message),
    );
    assert.equal((await waiting).exitStatus, 143);
    assert.deepEqual(
      shim.children().filter((p) => runner.includes(p)),
      [],
      "the runner is gone",
    );
    const state = await task.state({ id: "blocked" });
    assert.equal(Status[state.status], "STOPPED");
    assert.equal(state.exitStatus, 143);
    await task.delete({ id: "blocked" });
  });
});
