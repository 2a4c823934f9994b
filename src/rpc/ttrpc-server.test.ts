import assert from "node:assert/strict";
import { lstat, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { startTtrpcFixture, type TtrpcFixture, unimplementedService } from "../../test/harness/index.js";
import { CreateOptionsSchema, Events, Images, Status, Task } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import type { ServiceImpl } from "./service.js";
import { connectTtrpc, createTtrpcClient, type TtrpcConnection } from "./ttrpc-client.js";
import { serveTtrpc } from "./ttrpc-server.js";

/** Polls `check` until it holds (2 s at most). */
async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("ttrpc server and client on a unix socket", () => {
  let fixture: TtrpcFixture;
  let conn: TtrpcConnection;
  /** Events/Forward calls, and an Images service to show that streaming RPCs are left out. */
  const forwarded: { topic: string; namespace: string[] }[] = [];
  let slowAborted: unknown;

  before(async () => {
    fixture = await startTtrpcFixture((server) => {
      server.register(Events, {
        async forward(req, ctx) {
          forwarded.push({
            topic: req.envelope?.topic ?? "",
            namespace: ctx.metadata["containerd-namespace-ttrpc"] ?? [],
          });
          return {};
        },
      } satisfies ServiceImpl<typeof Events>);
      const images = unimplementedService(Images);
      server.register(Images, {
        ...images,
        async get(req, ctx) {
          // Answers after `req.name` ms, or rejects with the signal's reason.
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(resolve, Number(req.name));
            ctx.signal.addEventListener("abort", () => {
              clearTimeout(t);
              slowAborted = ctx.signal.reason;
              reject(ctx.signal.reason);
            });
          });
          return { image: { name: req.name } };
        },
        async list() {
          throw new Error("store index is corrupt");
        },
      });
    });
    conn = await connectTtrpc(fixture.socket);
  });
  after(async () => {
    await conn.close();
    await fixture.close();
  });

  it("makes the socket 0600 in a folder it created 0700", async () => {
    assert.equal((await lstat(fixture.socket)).mode & 0o777, 0o600);
    assert.equal((await stat(join(fixture.dir, "run"))).mode & 0o777, 0o700);
  });

  it("round-trips Task calls under containerd.task.v2.Task and containerd.task.v3.Task on one connection", async () => {
    const v2 = createTtrpcClient(Task, conn);
    const v3 = createTtrpcClient(Task, conn, { name: "containerd.task.v3.Task" });
    const connected = await v2.connect({ id: "t" }, { metadata: { "x-test": "ns1" } });
    assert.equal(connected.shimPid, process.pid);
    assert.equal(connected.version, "ns1");
    const options = anyPack(CreateOptionsSchema, create(CreateOptionsSchema, { image: "oci:./hello" }));
    assert.equal((await v3.create({ id: "both", options })).pid, 42);
    assert.deepEqual(fixture.log.created.at(-1), { id: "both", image: "oci:./hello" });
    // Wait (v2) blocks until Kill (v3): one task behind both names, calls concurrent on one connection.
    const waiting = v2.wait({ id: "both" });
    await new Promise((r) => setTimeout(r, 20));
    await v3.kill({ id: "both", signal: 15 });
    assert.equal((await waiting).exitStatus, 143);
    assert.equal((await v2.state({ id: "both" })).status, Status.STOPPED);
  });

  it("runs concurrent calls independently and answers in completion order", async () => {
    const images = createTtrpcClient(Images, conn);
    const order: string[] = [];
    const delays = ["160", "40", "120", "0", "80"];
    const results = await Promise.all(
      delays.map((d) =>
        images.get({ name: d }).then((r) => {
          order.push(d);
          return r.image?.name;
        }),
      ),
    );
    assert.deepEqual(results, delays);
    assert.deepEqual(order, ["0", "40", "80", "120", "160"]);
  });

  it("carries a thrown error's code and message; a plain Error is Unknown and logged", async () => {
    const task = createTtrpcClient(Task, conn);
    await assert.rejects(task.start({ id: "nope" }), (err: ShimError) => {
      assert.ok(err instanceof ShimError);
      assert.equal(err.code, Code.NotFound);
      assert.equal(err.rawMessage, "task nope not found");
      return true;
    });
    const images = createTtrpcClient(Images, conn);
    await assert.rejects(images.list({}), { code: Code.Unknown, rawMessage: "store index is corrupt" });
    assert.ok(fixture.errors.some((e) => e.includes("nodewasi.v1.Images/List failed")));
  });

  it("answers Unimplemented for an unknown service, method, or streaming RPC", async () => {
    await assert.rejects(conn.call("containerd.task.v9.Task", "Create", new Uint8Array()), {
      code: Code.Unimplemented,
      rawMessage: "service containerd.task.v9.Task",
    });
    await assert.rejects(conn.call("containerd.task.v2.Task", "Frobnicate", new Uint8Array()), {
      code: Code.Unimplemented,
      rawMessage: "method Frobnicate",
    });
    await assert.rejects(conn.call("nodewasi.v1.Images", "Pull", new Uint8Array()), {
      code: Code.Unimplemented,
    });
    await assert.rejects(createTtrpcClient(Task, conn).checkpoint({ id: "x" }), { code: Code.Unimplemented });
  });

  it("aborts the call's signal at timeout_nano with DeadlineExceeded", async () => {
    // The implementation sees the server's deadline; ttrpc-server-wire.test.ts checks the server's own answer.
    const slow = conn.call("nodewasi.v1.Images", "Get", new Uint8Array([10, 4, 53, 48, 48, 48]), {
      timeoutMs: 30,
    });
    await assert.rejects(slow, { code: Code.DeadlineExceeded });
    await eventually(() => slowAborted !== undefined);
    assert.equal((slowAborted as ShimError).code, Code.DeadlineExceeded);
  });

  it("delivers metadata with lower-cased keys, containerd-namespace-ttrpc included", async () => {
    const events = createTtrpcClient(Events, conn);
    await events.forward(
      { envelope: { topic: "/tasks/start", namespace: "default" } },
      { metadata: { "Containerd-Namespace-TTRPC": "default" } },
    );
    assert.deepEqual(forwarded.at(-1), { topic: "/tasks/start", namespace: ["default"] });
    const task = createTtrpcClient(Task, conn, { name: "containerd.task.v3.Task" });
    await task.create(
      { id: "md" },
      { metadata: { "containerd-namespace-ttrpc": "k8s.io", "x-multi": ["a", "b"] } },
    );
    const md = fixture.log.metadata.at(-1)!;
    assert.deepEqual(md["containerd-namespace-ttrpc"], ["k8s.io"]);
    assert.deepEqual(md["x-multi"], ["a", "b"]);
  });

  it("aborts the server-side signal when the client disconnects, and fails the client's pending calls", async () => {
    const own = await connectTtrpc(fixture.socket);
    const task = createTtrpcClient(Task, own);
    await task.create({ id: "gone" });
    const waiting = task.wait({ id: "gone" });
    const before = fixture.log.aborted.length;
    await new Promise((r) => setTimeout(r, 20));
    await own.close();
    await assert.rejects(waiting, { code: Code.Unavailable });
    await eventually(() => fixture.log.aborted.length === before + 1);
    assert.equal(fixture.log.aborted.at(-1), "wait");
    await assert.rejects(task.connect({}), { code: Code.Unavailable });
  });

  it("cancels a call on the client's signal and keeps the connection usable", async () => {
    const images = createTtrpcClient(Images, conn);
    const controller = new AbortController();
    const call = images.get({ name: "200" }, { signal: controller.signal });
    controller.abort();
    await assert.rejects(call, { code: Code.Canceled });
    assert.equal((await images.get({ name: "0" })).image?.name, "0");
  });

  it("refuses a second registration of a name, and fails Unavailable without a server", async () => {
    await assert.rejects(
      serveTtrpc(join(fixture.dir, "other.sock"), (s) => {
        s.register(Task, unimplementedService(Task));
        s.register(Task, unimplementedService(Task), { names: ["containerd.task.v2.Task"] });
      }),
      TypeError,
    );
    await assert.rejects(connectTtrpc(join(fixture.dir, "none.sock")), { code: Code.Unavailable });
    await assert.rejects(
      serveTtrpc(fixture.socket, () => {}),
      { code: Code.AlreadyExists },
    );
  });

  it("close() waits for calls in flight, then removes the socket", async () => {
    const extra = await startTtrpcFixture();
    const c = await connectTtrpc(extra.socket);
    const task = createTtrpcClient(Task, c);
    await task.create({ id: "w" });
    const waiting = task.wait({ id: "w" });
    await eventually(() => extra.server.activeCalls === 1);
    const closing = extra.server.close(2000);
    await task.kill({ id: "w", signal: 9 }).catch(() => {});
    // Kill came on a fresh stream of the same connection, which is still served until idle.
    assert.equal((await waiting).exitStatus, 137);
    await closing;
    await assert.rejects(lstat(extra.socket), { code: "ENOENT" });
    await extra.close();
  });
});
