import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { FakeRunner } from "../../test/harness/fake-runner.js";
import { RecordingPublisher } from "../../test/harness/recording-publisher.js";
import { CreateTaskRequestSchema } from "../gen/index.js";
import { Code, readWasmFileHeader, ShimError } from "../internal/index.js";
import { ChildRunner } from "../wasi/index.js";
import type { ImageResolver } from "./image-resolver.js";
import { ensurePauseModule, PAUSE_WASM } from "./pause-module.js";
import { TaskService } from "./task-service.js";
import { CRI_CONTAINER_TYPE } from "./task-setup.js";

const ctx = () => ({ signal: new AbortController().signal, metadata: {} });
const noImages: ImageResolver = {
  resolve: () => Promise.reject(new Error("no images in this test")),
};

describe("the built-in pause module (DESIGN decision 17)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-pause-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A bundle whose rootfs holds `/pause` as a shell script (`elf`: an ELF stub). */
  async function bundle(name: string, annotations: Record<string, string>, elf = false): Promise<string> {
    const b = join(dir, name);
    await mkdir(join(b, "rootfs"), { recursive: true });
    const stub = elf
      ? Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0])
      : "#!/bin/sh\nsleep 1d\n";
    await writeFile(join(b, "rootfs", "pause"), stub, { mode: 0o755 });
    const spec = {
      process: { args: ["/pause"], env: ["PATH=/bin"], cwd: "/" },
      root: { path: "rootfs" },
      annotations,
    };
    await writeFile(join(b, "config.json"), JSON.stringify(spec));
    return b;
  }

  function service(runner: FakeRunner) {
    return new TaskService({
      runner,
      images: noImages,
      events: new RecordingPublisher(),
      stateDir: join(dir, "state"),
      onShutdown: () => {},
    });
  }

  it("is a WASI preview 1 module", async () => {
    const file = await ensurePauseModule(join(dir, "check"));
    const header = await readWasmFileHeader(file);
    assert.ok(!("error" in header), JSON.stringify(header));
    assert.equal(header.kind, "module");
    assert.ok(Buffer.from(PAUSE_WASM).includes("wasi_snapshot_preview1"));
  });

  it("writes the module once, atomically, and rewrites a wrong one", async () => {
    const d = join(dir, "once");
    const [a, b] = await Promise.all([ensurePauseModule(d), ensurePauseModule(d)]);
    assert.equal(a, b);
    assert.deepEqual(new Uint8Array(await readFile(a)), PAUSE_WASM);
    await writeFile(a, "junk");
    await ensurePauseModule(d);
    assert.deepEqual(new Uint8Array(await readFile(a)), PAUSE_WASM);
  });

  for (const elf of [false, true]) {
    it(`a CRI sandbox with a non-wasm /pause (${elf ? "ELF" : "script"}) runs the built-in module`, async () => {
      const runner = new FakeRunner();
      const svc = service(runner);
      const b = await bundle(`sandbox-${elf}`, { [CRI_CONTAINER_TYPE]: "sandbox" }, elf);
      await svc.create(create(CreateTaskRequestSchema, { id: "pod", bundle: b, stdout: "/dev/null" }), ctx());
      const { pid } = await svc.start({ id: "pod", execId: "" } as never, ctx());
      const guest = runner.last();
      assert.equal(guest.pid, pid);
      assert.deepEqual(new Uint8Array(await readFile(guest.spec.module)), PAUSE_WASM);
      assert.notEqual(guest.spec.module, join(b, "rootfs", "pause"));
      assert.deepEqual(guest.spec.args, ["/pause"]);
      assert.deepEqual(guest.spec.preopens, {});
      await svc.kill({ id: "pod", execId: "", signal: 15, all: false } as never, ctx());
      assert.equal((await svc.wait({ id: "pod", execId: "" } as never, ctx())).exitStatus, 143);
      await runner.close();
    });
  }

  it("a CRI sandbox whose args[0] is missing from the rootfs also runs it", async () => {
    const runner = new FakeRunner();
    const b = await bundle("sandbox-missing", { [CRI_CONTAINER_TYPE]: "sandbox" });
    await rm(join(b, "rootfs", "pause"));
    const svc = service(runner);
    await svc.create(create(CreateTaskRequestSchema, { id: "pod2", bundle: b }), ctx());
    await svc.start({ id: "pod2", execId: "" } as never, ctx());
    assert.deepEqual(new Uint8Array(await readFile(runner.last().spec.module)), PAUSE_WASM);
    await runner.close();
  });

  for (const annotations of [{}, { [CRI_CONTAINER_TYPE]: "container" }]) {
    it(`a non-wasm args[0] outside a sandbox is still refused (${JSON.stringify(annotations)})`, async () => {
      const runner = new FakeRunner();
      const b = await bundle(`plain-${Object.keys(annotations).length}`, annotations);
      await assert.rejects(
        service(runner).create(create(CreateTaskRequestSchema, { id: "c", bundle: b }), ctx()),
        (e: unknown) =>
          e instanceof ShimError &&
          e.code === Code.FailedPrecondition &&
          /not a WebAssembly module/.test(e.message),
      );
      assert.equal(runner.guests.length, 0);
    });
  }

  it("really runs: still running after 500 ms, SIGTERM ends it with 143 within 1 s", async () => {
    const runner = new ChildRunner({ isolation: "none", pool: 0 });
    try {
      const p = await runner.start({
        module: await ensurePauseModule(join(dir, "real")),
        args: ["/pause"],
        env: {},
        preopens: {},
        stdin: { kind: "null" },
        stdout: { kind: "null" },
        stderr: { kind: "null" },
      });
      const early = await Promise.race([p.exited, sleep(200, "running" as const)]);
      assert.equal(early, "running");
      const cpuBefore = (await p.stats()).cpuNanos;
      assert.equal(await Promise.race([p.exited, sleep(300, "running" as const)]), "running");
      // Waiting in poll_oneoff, not spinning: next to no CPU over the last 300 ms.
      const used = (await p.stats()).cpuNanos - cpuBefore;
      assert.ok(used < 100e6, `the pause module used ${used / 1e6} ms of CPU in 300 ms`);
      const t0 = Date.now();
      p.kill("SIGTERM");
      const status = await Promise.race([p.exited, sleep(1000, undefined)]);
      assert.ok(status, "SIGTERM did not end the pause module within 1 s");
      assert.equal(status.code, 143);
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      await runner.close();
    }
  });
});
