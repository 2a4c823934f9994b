import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { type Envelope, Events, TaskCreateSchema, TaskExitSchema, TaskStartSchema } from "../gen/index.js";
import { TtrpcServer } from "../rpc/index.js";
import { taskEvent } from "../shim/index.js";
import { TtrpcEventPublisher } from "./ttrpc-event-publisher.js";

interface Received {
  envelope: Envelope;
  namespace: string[] | undefined;
}

/** A fake containerd Events service on `socket`; `failFirst` calls are answered with an error. */
async function fakeContainerd(socket: string, got: Received[], failFirst = 0): Promise<TtrpcServer> {
  const server = new TtrpcServer();
  let calls = 0;
  server.register(Events, {
    forward: async (req, ctx) => {
      if (calls++ < failFirst) throw new Error("not yet");
      got.push({ envelope: req.envelope!, namespace: ctx.metadata["containerd-namespace-ttrpc"] });
      return {};
    },
  });
  await server.listen(socket);
  return server;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("TtrpcEventPublisher", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-events-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("forwards events in order, with bare type URLs, the namespace and a timestamp", async () => {
    const socket = join(dir, "order.sock");
    const got: Received[] = [];
    const server = await fakeContainerd(socket, got);
    const pub = new TtrpcEventPublisher({ address: socket, namespace: "test-ns" });
    try {
      for (let i = 0; i < 20; i++) {
        const id = `c${i}`;
        pub.publish(taskEvent(TaskCreateSchema, { containerId: id }));
        pub.publish(taskEvent(TaskStartSchema, { containerId: id, pid: i + 1 }));
        pub.publish(taskEvent(TaskExitSchema, { containerId: id, exitStatus: i }));
      }
      assert.equal(await pub.drain(5000), true);
      assert.equal(got.length, 60);
      got.forEach((r, n) => {
        const i = Math.floor(n / 3);
        const e = r.envelope;
        assert.equal(e.namespace, "test-ns");
        assert.deepEqual(r.namespace, ["test-ns"]);
        assert.ok(e.timestamp && e.timestamp.seconds > 0n);
        assert.equal(e.topic, ["/tasks/create", "/tasks/start", "/tasks/exit"][n % 3]);
        const schema = [TaskCreateSchema, TaskStartSchema, TaskExitSchema][n % 3]!;
        assert.equal(e.event?.typeUrl, schema.typeName);
        assert.ok(!e.event?.typeUrl.includes("/"), "no type.googleapis.com/ prefix");
        const decoded = fromBinary(schema, e.event!.value) as { containerId: string };
        assert.equal(decoded.containerId, `c${i}`);
      });
      assert.equal(got[2]!.envelope.event?.typeUrl, "containerd.events.TaskExit");
    } finally {
      await pub.close();
      await server.close();
    }
  });

  test("retries a failed Forward, keeping the order", async () => {
    const socket = join(dir, "retry.sock");
    const got: Received[] = [];
    const server = await fakeContainerd(socket, got, 3);
    const pub = new TtrpcEventPublisher({ address: socket, namespace: "ns", backoffMs: 5 });
    try {
      pub.publish(taskEvent(TaskCreateSchema, { containerId: "a" }));
      pub.publish(taskEvent(TaskStartSchema, { containerId: "a" }));
      assert.equal(await pub.drain(5000), true);
      assert.deepEqual(
        got.map((r) => r.envelope.topic),
        ["/tasks/create", "/tasks/start"],
      );
    } finally {
      await pub.close();
      await server.close();
    }
  });

  test("reconnects when containerd restarts, and delivers what was published meanwhile", async () => {
    const socket = join(dir, "restart.sock");
    const got: Received[] = [];
    let server = await fakeContainerd(socket, got);
    const pub = new TtrpcEventPublisher({
      address: socket,
      namespace: "ns",
      backoffMs: 10,
      maxBackoffMs: 50,
      maxAttempts: 1000,
    });
    try {
      pub.publish(taskEvent(TaskCreateSchema, { containerId: "a" }));
      await until("create", () => got.length === 1);
      await server.close(0);
      pub.publish(taskEvent(TaskStartSchema, { containerId: "a" }));
      pub.publish(taskEvent(TaskExitSchema, { containerId: "a" }));
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(got.length, 1, "nothing delivered while containerd is down");
      assert.equal(pub.pending, 2);
      server = await fakeContainerd(socket, got);
      assert.equal(await pub.drain(5000), true);
      assert.deepEqual(
        got.map((r) => r.envelope.topic),
        ["/tasks/create", "/tasks/start", "/tasks/exit"],
      );
      assert.equal(pub.dropped, 0);
    } finally {
      await pub.close();
      await server.close();
    }
  });

  test("drops an event after maxAttempts and a full queue's overflow, counting both", async () => {
    const pub = new TtrpcEventPublisher({
      address: join(dir, "nobody.sock"),
      namespace: "ns",
      maxAttempts: 2,
      backoffMs: 1,
      maxQueue: 2,
    });
    try {
      for (const id of ["a", "b", "c"]) {
        pub.publish(taskEvent(TaskCreateSchema, { containerId: id }));
      }
      assert.equal(await pub.drain(5000), true);
      assert.equal(pub.dropped, 3);
    } finally {
      await pub.close();
    }
  });
});
