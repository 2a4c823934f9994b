/**
 * /tasks/oom (reference containerd-shim-protocol.md §5): a task whose guest hits the memory limit of its
 * bundle (`linux.resources.memory.limit`, DESIGN decision 9) publishes TaskOOM between its start and its exit.
 * Real runner, real module (examples/modules/grow-memory.wasm).
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { CreateTaskRequestSchema, TaskOOMSchema } from "../gen/index.js";
import { ChildRunner } from "../wasi/index.js";
import { RecordingPublisher, Topic } from "./events.js";
import { TaskService } from "./task-service.js";

const ctx = () => ({ signal: new AbortController().signal, metadata: {} });
const MODULE = new URL("../../../examples/modules/grow-memory.wasm", import.meta.url);

describe("TaskOOM from a guest that hits its memory limit", () => {
  let dir: string;
  let runner: ChildRunner;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-oom-"));
    runner = new ChildRunner({ isolation: "none", pool: 0 });
  });
  after(async () => {
    await runner.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs grow-memory.wasm growing by `pages` in a bundle limited to `limit` bytes; the events it published. */
  async function run(id: string, pages: number, limit?: number) {
    const b = join(dir, id);
    await mkdir(join(b, "rootfs"), { recursive: true });
    await copyFile(MODULE, join(b, "rootfs", "grow-memory.wasm"));
    const spec = {
      process: { args: ["/grow-memory.wasm", String(pages)], cwd: "/" },
      root: { path: "rootfs" },
      ...(limit ? { linux: { resources: { memory: { limit } } } } : {}),
    };
    await writeFile(join(b, "config.json"), JSON.stringify(spec));
    const events = new RecordingPublisher();
    const svc = new TaskService({
      runner,
      images: { resolve: () => Promise.reject() },
      events,
      stateDir: dir,
    });
    await svc.create(create(CreateTaskRequestSchema, { id, bundle: b, stdout: `file://${b}/out` }), ctx());
    await svc.start({ id, execId: "" } as never, ctx());
    const { exitStatus } = await svc.wait({ id, execId: "" } as never, ctx());
    await svc.delete({ id, execId: "" } as never, ctx());
    return { events, exitStatus };
  }

  it("publishes create, start, oom, exit, delete; TaskOOM names the container and decodes from its Any", async () => {
    const { events, exitStatus } = await run("capped", 100, 4 * 1024 * 1024);
    assert.equal(exitStatus, 1, "grow-memory exits 1 when the grow fails");
    assert.deepEqual(events.topics(), [Topic.create, Topic.start, Topic.oom, Topic.exit, Topic.delete]);
    const oom = events.events[2]!;
    assert.equal(oom.schema, TaskOOMSchema);
    // As the ttrpc publisher packs it (bare type URL = the schema's name) and containerd decodes it.
    assert.equal(oom.schema.typeName, "containerd.events.TaskOOM");
    const decoded = fromBinary(TaskOOMSchema, toBinary(TaskOOMSchema, oom.event as never));
    assert.equal(decoded.containerId, "capped");
    const exit = events.events[3]!.event as unknown as { containerId: string; exitStatus: number };
    assert.deepEqual([exit.containerId, exit.exitStatus], ["capped", 1]);
  });

  it("publishes no oom when the growth fits the limit, or when there is no limit", async () => {
    const fits = await run("fits", 10, 4 * 1024 * 1024);
    assert.equal(fits.exitStatus, 0);
    assert.ok(!fits.events.topics().includes(Topic.oom));
    const free = await run("free", 100);
    assert.equal(free.exitStatus, 0);
    assert.ok(!free.events.topics().includes(Topic.oom));
  });
});
