import assert from "node:assert/strict";
import { closeSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  childPids,
  mkfifo,
  openFifoWriter,
  readFifoChunks,
  specFor,
  tempDir,
} from "../../test/harness/index.js";
import { recordFigures } from "../../test/harness/reliability.js";
import { Code, ShimError } from "../internal/index.js";
import { ChildRunner } from "./child-runner.js";
import type { ExitStatus, RunningProcess } from "./runner.js";
import { findBwrap } from "./sandbox.js";
import { signalName } from "./signals.js";

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

/** Settles with the exit status, or "running" when the guest has not exited within `ms`. */
function exitWithin(p: RunningProcess, ms: number): Promise<ExitStatus | "running"> {
  return Promise.race([p.exited, sleep(ms).then(() => "running" as const)]);
}

/** The state letter of `pid` in /proc (R, S, T ...), or "gone". */
function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "gone";
  }
}

function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0]!;
  } catch {
    return "gone";
  }
}

describe("ChildRunner kill with every signal (a guest handles none: each signal's default action)", () => {
  // SIGTSTP, SIGTTIN and SIGTTOU stop a process, but the kernel discards them for an orphaned process group,
  // which a runner's is (its own session, like a container's init): they leave it running, as SIGSTOP does not.
  const ignored = ["SIGCHLD", "SIGCONT", "SIGURG", "SIGWINCH", "SIGTSTP", "SIGTTIN", "SIGTTOU"].map(
    (n) => constants.signals[n as NodeJS.Signals],
  );
  const stopping = [constants.signals.SIGSTOP];
  const all = [...Array.from({ length: 31 }, (_, i) => i + 1), 32, 33, 34, 50, 64];

  /** What signal `signo` did to a spinning guest. */
  async function outcome(signo: number): Promise<string> {
    const p = await startAndWait("busy-loop", []);
    p.kill(signo);
    const status = await exitWithin(p, ignored.includes(signo) || stopping.includes(signo) ? 500 : 10_000);
    if (status !== "running") return `${status.code} ${status.signal ?? "-"}`;
    const state = procState(p.pid);
    p.kill("SIGKILL");
    assert.equal((await p.exited).code, 137);
    return state === "T" ? "stopped" : "running";
  }

  it("1-31 and the real-time 32-64: ended with 128 + signo, stopped, or left running, as a native process", async (t) => {
    const want = (signo: number) =>
      ignored.includes(signo)
        ? "running"
        : stopping.includes(signo)
          ? "stopped"
          : `${128 + signo} ${signalName(signo) ?? "-"}`;
    const got: Record<number, string> = {};
    for (let i = 0; i < all.length; i += 4) {
      const batch = all.slice(i, i + 4);
      const seen = await Promise.all(batch.map(outcome));
      batch.forEach((signo, j) => {
        got[signo] = seen[j]!;
      });
    }
    assert.deepEqual(got, Object.fromEntries(all.map((signo) => [signo, want(signo)])));
    const outcomes = Object.values(got);
    recordFigures(t, {
      "signals sent": all.length,
      "ended the guest (128 + signo)": outcomes.filter((o) => /^\d/.test(o)).length,
      "stopped it": outcomes.filter((o) => o === "stopped").length,
      "left it running (default: ignore)": outcomes.filter((o) => o === "running").length,
    });
  });

  it("SIGUSR1 ends the guest (138) and a warm runner: Node's inspector never starts", async () => {
    const p = await startAndWait("busy-loop", []);
    p.kill("SIGUSR1");
    const status = await exitWithin(p, 10_000);
    assert.deepEqual(status === "running" ? status : [status.code, status.signal], [138, "SIGUSR1"]);
    // A runner waiting for work, signalled by anyone: it must die of it, not listen on 127.0.0.1:9229.
    const t0 = Date.now();
    while (runner.warmPids().length === 0 && Date.now() - t0 < 10_000) await sleep(20);
    const [idle] = runner.warmPids();
    assert.ok(idle, "a warm runner booted");
    process.kill(idle, "SIGUSR1");
    // Until the pool has seen it end (the next test must not be given a dead runner).
    while (runner.warmPids().includes(idle) && Date.now() - t0 < 20_000) await sleep(20);
    assert.ok(["gone", "Z"].includes(procState(idle)), `warm runner ${idle} outlived SIGUSR1`);
    assert.ok(!runner.warmPids().includes(idle));
  });

  it("SIGPIPE ends a paused guest with 141 (sent as SIGKILL: Node ignores SIGPIPE)", async () => {
    const p = await startAndWait("busy-loop", []);
    p.pause();
    await killedWithin(p, "SIGPIPE", 141, 10_000);
  });
});

describe("ChildRunner kill of a guest still starting (Runner.start's kill signal)", () => {
  /**
   * Starts a spec whose stdout is a FIFO nobody opens: the runner blocks opening it, so start() cannot
   * resolve. Aborts `kill` once the runner has had time to get that far, and returns the rejection.
   */
  async function abortedStart(r: ChildRunner): Promise<unknown> {
    const path = mkfifo(join(tmp.dir, `unread-${n++}.fifo`));
    const kill = new AbortController();
    const starting = r.start(specFor("exit-code", ["0"], { stdout: { kind: "fifo", path } }), kill.signal);
    const settled = await Promise.race([
      starting.then(
        () => "resolved",
        () => "rejected",
      ),
      sleep(500),
    ]);
    assert.equal(settled, undefined, "start() must wait for the FIFO's reader");
    kill.abort(new ShimError(Code.Aborted, "killed while starting"));
    return starting.then(
      () => assert.fail("start() resolved after its kill signal aborted"),
      (err: unknown) => err,
    );
  }

  it("a warm runner: start() rejects with the reason, and only once the runner is gone", async () => {
    const t0 = Date.now();
    while (runner.warmPids().length === 0 && Date.now() - t0 < 10_000) await sleep(20);
    const [pid] = runner.warmPids();
    assert.ok(pid, "a warm runner booted");
    const err = await abortedStart(runner);
    assert.ok(err instanceof ShimError && err.code === Code.Aborted, String(err));
    assert.ok(["gone", "Z"].includes(procState(pid)), `runner ${pid} is ${procState(pid)}`);
  });

  it("under bwrap (cold): bwrap and the runner inside are both gone when start() rejects", {
    skip: findBwrap() ? false : "bwrap is missing or cannot create namespaces here",
  }, async () => {
    const sandboxed = new ChildRunner({ isolation: "bwrap" });
    try {
      const before = new Set(childPids());
      const rejected = abortedStart(sandboxed);
      await sleep(400); // abortedStart aborts at 500 ms
      // Only the new child named bwrap: the suite's warm pool may be booting a runner of its own meanwhile.
      const [bwrap] = childPids().filter((p) => !before.has(p) && comm(p) === "bwrap");
      assert.ok(bwrap, "bwrap was spawned");
      const inside = readFileSync(`/proc/${bwrap}/task/${bwrap}/children`, "utf8")
        .split(/\s+/)
        .filter(Boolean);
      const err = await rejected;
      assert.ok(err instanceof ShimError && err.code === Code.Aborted, String(err));
      for (const pid of [bwrap, ...inside.map(Number)])
        assert.ok(["gone", "Z"].includes(procState(pid)), `${pid} is ${procState(pid)}`);
    } finally {
      await sandboxed.close();
    }
  });
});
