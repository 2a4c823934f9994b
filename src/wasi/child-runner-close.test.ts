/**
 * Ending runners at every stage of their start (issue 10 item 14): under bwrap the spawned child is bwrap and
 * the runner its child, which arms `--die-with-parent` only just before it execs Node. Closing a ChildRunner
 * (or losing bwrap) while warm runners boot must leave no process behind and not wait out close()'s bound.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { childPids, tempDir } from "../../test/harness/index.js";
import { recordFigures } from "../../test/harness/reliability.js";
import { createLogger, type Logger } from "../internal/index.js";
import { ChildRunner } from "./child-runner.js";
import { findBwrap } from "./sandbox.js";

const skip = findBwrap() ? false : "bwrap is missing or cannot create namespaces here";
const tmp = tempDir("nodewasi-close-");
after(() => tmp.remove());

/** A logger that keeps warnings. */
function warnings(): { logger: Logger; seen: string[] } {
  const seen: string[] = [];
  const logger = createLogger({ level: "warn", write: (line) => seen.push(line) });
  return { logger, seen };
}

/** Whether `pid` lives (a zombie does not: it only waits to be reaped). */
function live(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** `pids` and their children (under bwrap: the sandboxed child, in setup or already the runner). */
function withChildren(pids: number[]): number[] {
  const out = [...pids];
  for (const pid of pids) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
        if (text) out.push(...text.split(/\s+/).map(Number));
      }
    } catch {
      // gone already
    }
  }
  return out;
}

/** Waits (at most `ms`) until none of `pids` lives; returns those still alive. */
async function survivors(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (pids.some(live) && Date.now() < deadline) await sleep(50);
  return pids.filter(live);
}

/** A folder for a runner's slots (ChildRunner `slots`). */
function slotsDir(name: string): string {
  const dir = join(tmp.dir, name, "slots");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The bwrap processes among this process's children that are not in `before`, once `n` of them are there. */
async function newBwraps(before: Set<number>, n: number): Promise<number[]> {
  const comm = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      return "";
    }
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = childPids().filter((p) => !before.has(p) && comm(p) === "bwrap");
    if (found.length >= n || Date.now() > deadline) return found;
    await sleep(1);
  }
}

describe("closing runners that are still starting (bwrap)", { skip }, () => {
  it("close() while warm sandboxed runners boot ends bwrap and its child at every stage, without waiting out its bound", async (t) => {
    const slots = slotsDir("close");
    // From "bwrap just spawned" to "Node booting inside": each stage has left a runner behind before.
    const delays = [0, 2, 5, 10, 15, 30, 60, 100, 200, 400];
    for (const delay of delays) {
      const { logger, seen } = warnings();
      const before = new Set(childPids());
      const runner = new ChildRunner({ isolation: "bwrap", pool: 2, slots, logger });
      // Spawned once the slots' room is made (a mount(8) call).
      const spawned = await newBwraps(before, 2);
      assert.equal(spawned.length, 2, "two bwrap processes were spawned");
      await sleep(delay);
      const all = withChildren(spawned);
      await runner.close();
      assert.deepEqual(seen, [], `close() ${delay} ms after the spawn warned`);
      // Nothing of them lives on: no sandboxed child blocked in bwrap's setup, no orphan runner.
      assert.deepEqual(await survivors(all, 2000), [], `left behind ${delay} ms after the spawn`);
    }
    recordFigures(t, {
      "closes while booting": delays.length,
      "runners closed": 2 * delays.length,
      "left behind": 0,
      "close() bound waited out": 0,
    });
  });

  it("a bwrap killed from outside while it sets up leaves no child of its own behind", async (t) => {
    const slots = slotsDir("outside");
    const left: number[] = [];
    const delays = [0, 1, 2, 3, 4, 6, 8, 10, 12, 15, 20, 30];
    for (const delay of delays) {
      const before = new Set(childPids());
      const runner = new ChildRunner({ isolation: "bwrap", pool: 2, slots });
      const spawned = await newBwraps(before, 2);
      await sleep(delay);
      const all = withChildren(spawned);
      for (const pid of spawned) process.kill(pid, "SIGKILL"); // bwrap only, not its group
      // What is left must go by itself once bwrap is reaped, not only at close().
      const alive = await survivors(all, 5000);
      left.push(...alive);
      await runner.close();
      for (const pid of alive.filter(live)) process.kill(pid, "SIGKILL");
    }
    assert.deepEqual(left, []);
    recordFigures(t, {
      "bwrap processes killed while starting": 2 * delays.length,
      "children left behind": 0,
    });
  });
});
