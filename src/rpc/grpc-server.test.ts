import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstat, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  fakeImages,
  fakeTask,
  type ImagesLog,
  startGrpcFixture,
  type TaskLog,
} from "../../test/harness/index.js";
import { CreateOptionsSchema, Images, Status, TASK_NAMES, Task } from "../gen/index.js";
import { Code, type ShimError } from "../internal/index.js";
import { closeClient, createClient } from "./grpc-client.js";
import { addService, createGrpcServer, serveGrpc, shutdownServer } from "./grpc-server.js";
import { listenUnix } from "./listen-unix.js";
import type { ServiceImpl } from "./service.js";

describe("gRPC server on a unix socket", () => {
  let fixture: Awaited<ReturnType<typeof startGrpcFixture>>;
  const taskLog: TaskLog = { created: [], metadata: [], aborted: [] };
  const imagesLog: ImagesLog = { cancelledAfter: [] };
  const errors: string[] = [];

  before(async () => {
    fixture = await startGrpcFixture((server) => {
      addService(server, Task, fakeTask(taskLog), { names: TASK_NAMES });
      const logger = { debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) };
      addService(server, Images, fakeImages(imagesLog), { logger });
    });
  });
  after(() => fixture.close());

  it("makes the socket 0600 in a folder it created 0700", async () => {
    assert.equal((await lstat(fixture.socket)).mode & 0o777, 0o600);
    assert.ok((await lstat(fixture.socket)).isSocket());
    assert.equal((await stat(join(fixture.dir, "run"))).mode & 0o777, 0o700);
  });

  it("answers a unary call with the implementation's response, and passes metadata", async () => {
    const task = createClient(Task, fixture.socket);
    try {
      const res = await task.connect({ id: "t" }, { metadata: { "x-test": "ns1" } });
      assert.equal(res.shimPid, process.pid);
      assert.equal(res.taskPid, 42);
      assert.equal(res.version, "ns1");
    } finally {
      closeClient(task);
    }
  });

  it("answers the same implementation under containerd.task.v2.Task and containerd.task.v3.Task", async () => {
    const v2 = createClient(Task, fixture.socket);
    const v3 = createClient(Task, `unix://${fixture.socket}`, { name: "containerd.task.v3.Task" });
    try {
      const options = anyPack(CreateOptionsSchema, create(CreateOptionsSchema, { image: "oci:./hello" }));
      assert.equal((await v3.create({ id: "both", options })).pid, 42);
      // Wait (v2) blocks until Kill (v3): the two names reach one task, and calls run concurrently.
      const waiting = v2.wait({ id: "both" });
      await v3.kill({ id: "both", signal: 15 });
      assert.equal((await waiting).exitStatus, 143);
      const state = await v3.state({ id: "both" });
      assert.equal(state.status, Status.STOPPED);
      assert.deepEqual(taskLog.created.at(-1), { id: "both", image: "oci:./hello" });
    } finally {
      closeClient(v2);
      closeClient(v3);
    }
  });

  it("sends a thrown ShimError's code and message: NotFound stays NotFound", async () => {
    const images = createClient(Images, fixture.socket);
    const task = createClient(Task, fixture.socket);
    try {
      await assert.rejects(images.get({ name: "hello" }), (err: ShimError) => {
        assert.equal(err.code, Code.NotFound);
        assert.equal(err.rawMessage, "hello is not in the store; run `nodewasi pull hello`");
        assert.equal(err.message, "[not_found] hello is not in the store; run `nodewasi pull hello`");
        return true;
      });
      await assert.rejects(task.checkpoint({ id: "x" }), { code: Code.Unimplemented });
    } finally {
      closeClient(images);
      closeClient(task);
    }
  });

  it("sends other errors as Unknown with their message, and logs them", async () => {
    const images = createClient(Images, fixture.socket);
    try {
      await assert.rejects(images.list({}), { code: Code.Unknown, rawMessage: "store index is corrupt" });
      assert.ok(errors.some((e) => e.includes("nodewasi.v1.Images/List failed: store index is corrupt")));
    } finally {
      closeClient(images);
    }
  });

  it("streams every message of a server-streaming call in order, then ends", async () => {
    const images = createClient(Images, fixture.socket);
    try {
      const got = [];
      for await (const m of images.pull({ reference: "count:2000" })) got.push(m);
      assert.equal(got.length, 2001);
      got.slice(0, -1).forEach((m, i) => {
        assert.equal(m.event.case, "blobProgress");
        assert.equal(
          m.event.value?.$typeName === "nodewasi.v1.BlobProgress" && m.event.value.done,
          BigInt(i),
        );
      });
      assert.deepEqual(got.at(-1)?.event.case, "result");
    } finally {
      closeClient(images);
    }
  });

  it("ends a stream with the thrown status after the messages sent before it", async () => {
    const images = createClient(Images, fixture.socket);
    try {
      const got = [];
      await assert.rejects(
        (async () => {
          for await (const m of images.pull({ reference: "fail:3" })) got.push(m);
        })(),
        { code: Code.InvalidArgument, rawMessage: "bad reference fail:3" },
      );
      assert.equal(got.length, 3);
    } finally {
      closeClient(images);
    }
  });

  it("aborts the implementation's signal when the client cancels a stream", async () => {
    const images = createClient(Images, fixture.socket);
    const controller = new AbortController();
    try {
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const _ of images.pull({ reference: "forever" }, { signal: controller.signal })) {
            if (++n === 5) controller.abort();
          }
        })(),
        { code: Code.Canceled },
      );
      await until(() => imagesLog.cancelledAfter.length === 1);
      assert.ok(imagesLog.cancelledAfter[0]! >= 5);
    } finally {
      closeClient(images);
    }
  });

  it("stops the implementation when the client leaves a stream early (break)", async () => {
    const images = createClient(Images, fixture.socket);
    try {
      for await (const _ of images.pull({ reference: "forever" })) break;
      await until(() => imagesLog.cancelledAfter.length === 2);
    } finally {
      closeClient(images);
    }
  });
});

describe("listenUnix", () => {
  it("replaces a stale socket and refuses one a live server holds", async () => {
    const fixture = await startGrpcFixture(() => {});
    const stale = join(fixture.dir, "stale.sock");
    // A process killed while listening leaves its socket file behind.
    const script = `require("net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`;
    spawnSync(process.execPath, ["-e", script]);
    assert.ok((await lstat(stale)).isSocket());
    const server = createGrpcServer();
    addService(server, Task, fakeTask(), { names: TASK_NAMES });
    try {
      await listenUnix(server, stale);
      const task = createClient(Task, stale);
      assert.equal((await task.connect({})).taskPid, 42);
      closeClient(task);
      const second = createGrpcServer();
      await assert.rejects(listenUnix(second, stale), { code: Code.AlreadyExists });
      await assert.rejects(listenUnix(second, fixture.socket), { code: Code.AlreadyExists });
      second.forceShutdown();
    } finally {
      await shutdownServer(server, 100);
      await fixture.close();
    }
  });

  it("refuses a path that is not a socket, a relative path and one too long for sun_path", async () => {
    const fixture = await startGrpcFixture(() => {});
    const server = createGrpcServer();
    try {
      const file = join(fixture.dir, "file");
      await writeFile(file, "keep me");
      await assert.rejects(listenUnix(server, file), { code: Code.FailedPrecondition });
      await assert.rejects(listenUnix(server, "run/shim.sock"), { code: Code.InvalidArgument });
      await assert.rejects(listenUnix(server, `/tmp/${"x".repeat(120)}`), { code: Code.InvalidArgument });
    } finally {
      server.forceShutdown();
      await fixture.close();
    }
  });

  it("serveGrpc serves what its setup registers, and throws the listen's error", async () => {
    const fixture = await startGrpcFixture(() => {});
    const path = join(fixture.dir, "served.sock");
    const server = await serveGrpc(path, (s) => addService(s, Task, fakeTask(), { names: TASK_NAMES }));
    try {
      const task = createClient(Task, path);
      assert.equal((await task.connect({})).taskPid, 42);
      closeClient(task);
      const file = join(fixture.dir, "file");
      await writeFile(file, "keep me");
      await assert.rejects(
        serveGrpc(file, (s) => addService(s, Task, fakeTask())),
        { code: Code.FailedPrecondition },
      );
    } finally {
      await shutdownServer(server, 100);
      await fixture.close();
    }
  });

  it("leaves no socket file behind after shutdown", async () => {
    const fixture = await startGrpcFixture(() => {});
    await shutdownServer(fixture.server, 100);
    await assert.rejects(lstat(fixture.socket), { code: "ENOENT" });
    await fixture.close();
  });
});

describe("addService", () => {
  it("refuses an implementation that lacks an RPC, naming it", () => {
    const partial = { connect: async () => ({}) } as unknown as ServiceImpl<typeof Task>;
    assert.throws(
      () => addService(createGrpcServer(), Task, partial),
      /containerd\.task\.v2\.Task: no implementation of State/,
    );
  });

  it("types implementations from the descriptor", () => {
    const impl: Partial<ServiceImpl<typeof Task>> = {
      // @ts-expect-error: a pid is a number, so a string is a compile error
      start: async () => ({ pid: "1" }),
    };
    assert.ok(impl.start);
  });
});

/** Polls `check` until it holds (server-side effects of a cancel arrive asynchronously). */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
