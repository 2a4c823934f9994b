/**
 * /tasks/oom (reference containerd-shim-protocol.md §5): a task whose guest hits the memory limit of its
 * bundle (`linux.resources.memory.limit`, DESIGN decision 9) publishes TaskOOM between its start and its exit.
 * Real runner, real module (examples/modules/grow-memory.wasm).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { RecordingPublisher } from "../../test/harness/recording-publisher.js";
import { CreateTaskRequestSchema, Status, TaskOOMSchema } from "../gen/index.js";
import { ChildRunner } from "../wasi/index.js";
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

  /** A bundle running `/m.wasm` (the bytes of `module`) with `args`, limited to `limit` bytes of memory. */
  async function created(id: string, module: Uint8Array, args: string[], limit?: number) {
    const b = join(dir, id);
    await mkdir(join(b, "rootfs"), { recursive: true });
    await writeFile(join(b, "rootfs", "m.wasm"), module);
    const spec = {
      process: { args: ["/m.wasm", ...args], cwd: "/" },
      root: { path: "rootfs" },
      ...(limit ? { linux: { resources: { memory: { limit } } } } : {}),
    };
    await writeFile(join(b, "config.json"), JSON.stringify(spec));
    const events = new RecordingPublisher();
    const images = { resolve: () => Promise.reject(new Error("no images here")) };
    const svc = new TaskService({ runner, images, events, stateDir: dir });
    await svc.create(create(CreateTaskRequestSchema, { id, bundle: b, stdout: `file://${b}/out` }), ctx());
    return { svc, events };
  }

  /** Runs grow-memory.wasm growing by `pages` in a bundle limited to `limit` bytes; the events it published. */
  async function run(id: string, pages: number, limit?: number) {
    const { svc, events } = await created(id, await readFile(MODULE), [String(pages)], limit);
    await svc.start({ id, execId: "" } as never, ctx());
    const { exitStatus } = await svc.wait({ id, execId: "" } as never, ctx());
    await svc.delete({ id, execId: "" } as never, ctx());
    return { events, exitStatus };
  }

  it("publishes create, start, oom, exit, delete; TaskOOM names the container and decodes from its Any", async () => {
    const { events, exitStatus } = await run("capped", 100, 4 * 1024 * 1024);
    assert.equal(exitStatus, 1, "grow-memory exits 1 when the grow fails");
    assert.deepEqual(events.topics(), [
      "/tasks/create",
      "/tasks/start",
      "/tasks/oom",
      "/tasks/exit",
      "/tasks/delete",
    ]);
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
    assert.ok(!fits.events.topics().includes("/tasks/oom"));
    const free = await run("free", 100);
    assert.equal(free.exitStatus, 0);
    assert.ok(!free.events.topics().includes("/tasks/oom"));
  });

  it("is published as soon as the guest calls the host after the failed grow, while it still runs", {
    timeout: 20_000,
  }, async () => {
    // Grows by 10 pages past a 1-page cap, ignores the -1, then sleeps in poll_oneoff (100 ms) forever.
    const w = join(dir, "stay.wat");
    await writeFile(
      w,
      `(module
        (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "\\01")
        (data (i32.const 24) "\\00\\e1\\f5\\05\\00\\00\\00\\00")
        (func (export "_start")
          (drop (memory.grow (i32.const 10)))
          (loop $l (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 96))) (br $l))))`,
    );
    execFileSync("wat2wasm", [w, "-o", join(dir, "stay.wasm")]);
    const { svc, events } = await created("stays", await readFile(join(dir, "stay.wasm")), [], 65536);
    await svc.start({ id: "stays", execId: "" } as never, ctx());
    await events.next((e) => e.topic === "/tasks/oom");
    assert.equal((await svc.state({ id: "stays", execId: "" } as never, ctx())).status, Status.RUNNING);
    await svc.kill({ id: "stays", execId: "", signal: 9, all: false } as never, ctx());
    assert.equal((await svc.wait({ id: "stays", execId: "" } as never, ctx())).exitStatus, 137);
    assert.deepEqual(events.topics(), ["/tasks/create", "/tasks/start", "/tasks/oom", "/tasks/exit"]);
  });
});
