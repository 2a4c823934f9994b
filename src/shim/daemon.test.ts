import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ShutdownRequestSchema, Task } from "../gen/index.js";
import { Code, readRootOwner, ShimError, silentLogger } from "../internal/index.js";
import { type DaemonOptions, startDaemon } from "./daemon.js";
import { nullPublisher } from "./events.js";

/** A transport for the tests: a plain unix socket server (shim/ never imports rpc). */
function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(path, () => resolve(server));
  });
}

const ctx = () => ({ signal: new AbortController().signal, metadata: {} });

describe("startDaemon", () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-daemon-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Options for a daemon with a root and socket of its own; `steps` records what its hooks saw, in order. */
  async function options(steps: string[], extra: Partial<DaemonOptions> = {}): Promise<DaemonOptions> {
    const home = join(dir, String(++n));
    await mkdir(home);
    const root = join(home, "root");
    const socket = join(home, "shim.sock");
    return {
      socket,
      logger: silentLogger,
      store: root,
      ownedRoot: root,
      runner: { isolation: "none", pool: 0 },
      events: nullPublisher,
      serve: async ({ tasks, track }) => {
        assert.equal(typeof track(Task, tasks).shutdown, "function");
        const server = await listen(socket);
        steps.push("serving");
        return {
          close: async () => {
            steps.push("server closed");
            await new Promise((r) => server.close(r));
          },
        };
      },
      tidy: async () => {
        steps.push("tidy");
      },
      stopped: async () => {
        steps.push(
          `stopped: socket ${existsSync(socket) ? "kept" : "gone"}, owner ${(await readRootOwner(root))?.pid ?? "none"}`,
        );
      },
      ...extra,
    };
  }

  it("stops once, whatever asks, in order: transport, tidying, socket, root, then the caller's last step", async () => {
    const steps: string[] = [];
    const o = await options(steps);
    await mkdir(join(o.ownedRoot!, "tasks", "left-by-a-dead-daemon"), { recursive: true });
    const daemon = await startDaemon(o);
    assert.deepEqual(steps, ["tidy", "serving"]);
    assert.equal((await readRootOwner(o.ownedRoot!))?.pid, process.pid);
    assert.ok(
      !existsSync(join(o.ownedRoot!, "tasks", "left-by-a-dead-daemon")),
      "a dead owner's task folder",
    );

    const [first, second] = await Promise.all([daemon.close("SIGTERM"), daemon.close("idle")]);
    assert.equal(first, "SIGTERM");
    assert.equal(second, "SIGTERM", "the second close shares the first");
    assert.equal(await daemon.closed, "SIGTERM");
    assert.deepEqual(steps, ["tidy", "serving", "server closed", "tidy", "stopped: socket gone, owner none"]);
  });

  it("owns its root: a second daemon on it refuses, naming the first", async () => {
    const steps: string[] = [];
    const o = await options(steps);
    const daemon = await startDaemon(o);
    try {
      await assert.rejects(startDaemon({ ...o, socket: join(dir, "other.sock") }), (err: unknown) => {
        assert.ok(err instanceof ShimError);
        assert.equal(err.code, Code.FailedPrecondition);
        assert.match(err.message, new RegExp(`pid ${process.pid} serving ${o.socket}`));
        return true;
      });
    } finally {
      await daemon.close("test");
    }
  });

  it("a transport that cannot listen fails the start, and the root is given back", async () => {
    const steps: string[] = [];
    const refused = new ShimError(Code.AlreadyExists, "a server is already listening");
    const o = await options(steps, {
      serve: async () => {
        throw refused;
      },
    });
    await assert.rejects(startDaemon(o), (err) => err === refused);
    assert.equal(await readRootOwner(o.ownedRoot!), undefined);
    assert.deepEqual(steps, ["tidy"]);
  });

  it("a daemon that owns no root claims nothing and creates nothing there", async () => {
    const steps: string[] = [];
    const o = await options(steps);
    delete o.ownedRoot;
    const daemon = await startDaemon(o);
    assert.ok(!existsSync(o.store), "no root made");
    await daemon.close("test");
    assert.deepEqual(steps, ["tidy", "serving", "server closed", "tidy", "stopped: socket gone, owner none"]);
  });

  it("stops after a Shutdown that leaves no task, and once idle", async () => {
    const shutdown = await startDaemon(await options([]));
    await shutdown.tasks.shutdown(create(ShutdownRequestSchema, { id: "" }), ctx());
    assert.equal(await shutdown.closed, "shutdown");

    const idle = await startDaemon(await options([], { idleTimeoutMs: 100 }));
    assert.equal(await idle.closed, "idle");
  });
});
