import assert from "node:assert/strict";
import { closeSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ChildRunner } from "./child-runner.js";
import type { RunningProcess } from "./runner.js";
import { mkfifo, openFifoWriter, readFifoChunks, specFor, tempDir } from "./runner-testing.js";

const tmp = tempDir();
let runner: ChildRunner;
before(() => {
  runner = new ChildRunner({ isolation: "none" });
});
after(async () => {
  await runner.close();
  tmp.remove();
});

let n = 0;
/** Starts a module and waits for its first stdout line, which it flushes just before it blocks or spins. */
async function startAndWait(name: string, args: string[]): Promise<RunningProcess> {
  const path = mkfifo(join(tmp.dir, `out-${n++}.fifo`));
  const out = readFifoChunks(path);
  const p = await runner.start(specFor(name, args, { stdout: { kind: "fifo", path } }));
  await out.first;
  return p;
}

async function killedWithin(
  p: RunningProcess,
  signal: NodeJS.Signals,
  code: number,
  ms = 1000,
): Promise<void> {
  const t0 = performance.now();
  p.kill(signal);
  const status = await p.exited;
  const took = performance.now() - t0;
  assert.equal(status.code, code);
  assert.equal(status.signal, signal);
  assert.ok(took < ms, `${signal} took ${took.toFixed(0)} ms`);
}

describe("ChildRunner kill (decision 5: a signal ends a guest wherever it is)", () => {
  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGKILL", 137],
    ["SIGINT", 130],
  ] as const) {
    it(`${signal} ends a busy loop within 1 s with ${code}`, async () => {
      await killedWithin(await startAndWait("busy-loop", []), signal, code);
    });
  }

  it("SIGTERM ends a guest blocked in fd_read on an empty stdin FIFO within 1 s", async () => {
    const inPath = mkfifo(join(tmp.dir, "stdin.fifo"));
    const writer = openFifoWriter(inPath); // held open, never written: the guest's read blocks
    const p = await runner.start(specFor("cat-stdin", [], { stdin: { kind: "fifo", path: inPath } }));
    const fd = await writer;
    await sleep(150);
    await killedWithin(p, "SIGTERM", 143);
    closeSync(fd);
  });

  it("SIGTERM ends a guest sleeping in poll_oneoff within 1 s", async () => {
    await killedWithin(await startAndWait("sleep-ms", ["60000"]), "SIGTERM", 143);
  });

  it("a signal after the exit is ignored", async () => {
    const p = await runner.start(specFor("exit-code", ["7"]));
    assert.equal((await p.exited).code, 7);
    p.kill("SIGKILL");
  });
});

describe("ChildRunner pause, resume, stats", () => {
  it("a paused busy guest accrues no CPU; resumed, it does", async () => {
    const p = await startAndWait("busy-loop", []);
    try {
      const s0 = await p.stats();
      assert.ok(s0.memoryBytes > 10 * 1024 * 1024, `RSS ${s0.memoryBytes}`);
      assert.ok(s0.cpuNanos > 0);
      p.pause();
      await sleep(50);
      const s1 = await p.stats();
      await sleep(400);
      const s2 = await p.stats();
      assert.ok(
        s2.cpuNanos - s1.cpuNanos <= 20e6,
        `paused, yet used ${(s2.cpuNanos - s1.cpuNanos) / 1e6} ms`,
      );
      p.resume();
      // A resumed guest accrues CPU again; on a loaded machine it gets less than its wall time, so wait for
      // 100 ms of CPU (at most 10 s) rather than demand a share of a fixed sleep.
      let used = 0;
      for (let waited = 0; waited < 10_000 && used < 100e6; waited += 100) {
        await sleep(100);
        used = (await p.stats()).cpuNanos - s2.cpuNanos;
      }
      assert.ok(used >= 100e6, `resumed, used only ${used / 1e6} ms in 10 s`);
    } finally {
      p.kill("SIGKILL");
    }
    assert.equal((await p.exited).code, 137);
    await assert.rejects(p.stats(), /it has exited/);
  });

  it("SIGTERM ends a paused guest too (the runner is continued to take it)", async () => {
    const p = await startAndWait("busy-loop", []);
    p.pause();
    await killedWithin(p, "SIGTERM", 143);
  });

  it("SIGKILL ends a paused guest", async () => {
    const p = await startAndWait("busy-loop", []);
    p.pause();
    await killedWithin(p, "SIGKILL", 137);
  });
});
