/**
 * `nodewasi shim serve --idle-timeout`: the daemon stays up while a guest runs, even with no call in flight,
 * and exits by itself (status 0, socket removed) once no task is alive and no call is made.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Task } from "../src/gen/index.js";
import { type ShimHandle, startShim } from "./harness/shim.js";
import { fifoReader, imageOptions, mkfifo, tempDir, writeModuleLayout } from "./harness/task-kit.js";

describe("an idle shim exits by itself", {
  skip: process.env.NODEWASI_TEST_SHIM === "lib" && "real shim only",
}, () => {
  let shim: ShimHandle;
  let dir: string;
  let ref: Awaited<ReturnType<typeof writeModuleLayout>>;

  before(async () => {
    dir = await tempDir();
    ref = await writeModuleLayout(join(dir, "layout"), ["sleep-ms"]);
    shim = await startShim({ idleTimeout: 1 });
  });
  after(async () => {
    await shim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a guest running 2.5 s with no call in flight keeps a 1 s idle daemon up; then it exits", async () => {
    const task = shim.client(Task, { timeoutMs: 30_000 });
    const fifo = join(dir, "out.fifo");
    mkfifo(fifo);
    const reader = await fifoReader(fifo);
    let out = "";
    reader.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const eof = new Promise((resolve) => reader.once("end", resolve));
    await task.create({
      id: "nap",
      stdout: fifo,
      options: imageOptions(ref("sleep-ms"), { args: ["2500"] }),
    });
    await task.start({ id: "nap" });
    // No call until the guest is done: had the daemon gone idle, it would have killed the guest.
    await eof;
    assert.equal(out, "sleeping 2500 ms\nslept\n");
    const timeout = new Promise((_, reject) => {
      setTimeout(() => reject(new Error("still running 6 s after its last task exited")), 6000).unref();
    });
    assert.equal(await Promise.race([shim.exited, timeout]), 0, shim.stderr());
    assert.ok(!existsSync(shim.address), "socket left behind");
  });
});
