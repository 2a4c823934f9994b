import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fakeImages, fakeTask, startGrpcFixture, type TaskLog } from "../../test/harness/index.js";
import { Images, Task } from "../gen/index.js";
import { Code } from "../internal/index.js";
import { closeClient, connectGrpc, createClient } from "./grpc-client.js";
import { addService, createGrpcServer, shutdownServer } from "./grpc-server.js";
import { listenUnix } from "./listen-unix.js";

describe("gRPC client", () => {
  let fixture: Awaited<ReturnType<typeof startGrpcFixture>>;
  const log: TaskLog = { created: [], metadata: [], aborted: [] };

  before(async () => {
    fixture = await startGrpcFixture((server) => {
      addService(server, Task, fakeTask(log), { names: ["containerd.task.v3.Task"] });
      addService(server, Images, fakeImages());
    });
  });
  after(() => fixture.close());

  it("shares one channel between clients of several services, and calls the name it is given", async () => {
    const channel = connectGrpc(fixture.socket);
    try {
      const task = createClient(Task, channel, { name: "containerd.task.v3.Task" });
      const images = createClient(Images, channel);
      await task.create({ id: "shared" });
      assert.equal((await task.start({ id: "shared" })).pid, 42);
      await assert.rejects(images.get({ name: "x" }), { code: Code.NotFound });
      // Only v3 is registered on this server: the descriptor's own name (v2) is not served.
      await assert.rejects(createClient(Task, channel).connect({}), { code: Code.Unimplemented });
    } finally {
      channel.close();
    }
  });

  it("rejects with Canceled when the signal aborts a unary call, and the server sees it", async () => {
    const task = createClient(Task, fixture.socket, { name: "containerd.task.v3.Task" });
    try {
      await task.create({ id: "cancel" });
      const controller = new AbortController();
      const waiting = task.wait({ id: "cancel" }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      await assert.rejects(waiting, { code: Code.Canceled });
      await until(() => log.aborted.length === 1);
      await assert.rejects(task.connect({}, { signal: AbortSignal.abort() }), { code: Code.Canceled });
    } finally {
      closeClient(task);
    }
  });

  it("rejects with DeadlineExceeded past timeoutMs (per call, or the client's default)", async () => {
    const task = createClient(Task, fixture.socket, { name: "containerd.task.v3.Task", timeoutMs: 50 });
    try {
      // The client's 50 ms default is for `wait`; a create on a busy machine may take longer than that.
      await task.create({ id: "late" }, { timeoutMs: 30_000 });
      const started = Date.now();
      await assert.rejects(task.wait({ id: "late" }), { code: Code.DeadlineExceeded });
      assert.ok(Date.now() - started < 1000);
      await assert.rejects(task.wait({ id: "late" }, { timeoutMs: 10 }), { code: Code.DeadlineExceeded });
      await until(() => log.aborted.length === 3);
      // A stream obeys the deadline too.
      const images = createClient(Images, fixture.socket);
      await assert.rejects(
        (async () => {
          for await (const _ of images.pull({ reference: "forever" }, { timeoutMs: 30 }));
        })(),
        { code: Code.DeadlineExceeded },
      );
      closeClient(images);
    } finally {
      closeClient(task);
    }
  });

  it("rejects with Unavailable when nothing listens, at once", async () => {
    const task = createClient(Task, join(fixture.dir, "nobody.sock"));
    try {
      await assert.rejects(task.connect({}), { code: Code.Unavailable });
    } finally {
      closeClient(task);
    }
  });

  it("with waitForReady, waits for a server that comes up later", async () => {
    const socket = join(fixture.dir, "later.sock");
    const task = createClient(Task, socket);
    const server = createGrpcServer();
    addService(server, Task, fakeTask());
    try {
      const answer = task.connect({}, { waitForReady: true, timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 50));
      await listenUnix(server, socket);
      assert.equal((await answer).taskPid, 42);
    } finally {
      closeClient(task);
      await shutdownServer(server, 100);
    }
  });
});

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
