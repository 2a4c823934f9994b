/**
 * The shim's own death (DESIGN decision 5, issue 3 "Must have" 5): when a shim process is SIGKILLed, its
 * runners (a spinning guest, a sleeping one, the warm pool) do not outlive it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Task } from "../src/gen/index.js";
import { recordFigures } from "./harness/reliability.js";
import { type ShimHandle, startShim } from "./harness/shim.js";
import { imageOptions, tempDir, until, writeModuleLayout } from "./harness/task-kit.js";

/** Whether `pid` is a live process (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

describe("a SIGKILLed shim takes its runners with it", () => {
  let shim: ShimHandle;
  let dir: string;
  let ref: Awaited<ReturnType<typeof writeModuleLayout>>;

  before(async () => {
    dir = await tempDir();
    ref = await writeModuleLayout(join(dir, "layout"), ["busy-loop", "sleep-ms"]);
    shim = await startShim({ isolation: "none", pool: 2 });
  });
  after(async () => {
    await shim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("running guests and warm runners exit within 5 s of the shim's death", async (t) => {
    const task = shim.client(Task, { timeoutMs: 30_000 });
    const pids: number[] = [];
    for (const [id, module, args] of [
      ["spin", "busy-loop", []],
      ["nap", "sleep-ms", ["60000"]],
    ] as const) {
      await task.create({ id, options: imageOptions(ref(module), { args: [...args] }) });
      pids.push((await task.start({ id })).pid);
    }
    await until(() => shim.childCount() >= 4, 10_000, "two guests and a full warm pool");
    const all = [...new Set([...pids, ...shim.children()])];
    assert.ok(all.every(alive), `not all alive: ${all.join(" ")}`);
    process.kill(shim.pid, "SIGKILL");
    assert.equal(await shim.exited, "SIGKILL");
    await until(() => !all.some(alive), 5000, "the runners to exit").catch(() => {
      assert.fail(`runners still alive 5 s after their shim died: ${all.filter(alive).join(" ")}`);
    });
    recordFigures(t, { "guests running": 2, "runners at the kill": ">= 4", "left alive after 5 s": 0 });
  });
});
