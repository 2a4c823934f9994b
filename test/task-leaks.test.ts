/**
 * No leaks in a shim process: 1,000 tasks run one after another (Create, Wait, Start, Wait, Delete of a tiny
 * module, stdout to a file) leave the shim's open fd count and its children where they started (its warm
 * pool refilled to the same fixed size), its resident memory within a stated bound, and no task folder
 * behind; then 50 more under bwrap, in a second shim, since sandboxed runners take another path (cold, under a
 * bwrap parent). Issue 6's reliability report shows the first run's figures.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { recordFigures } from "./harness/reliability.js";
import type { ShimHandle, ShimOptions } from "./harness/shim.js";
import {
  bwrapWorks,
  imageOptions,
  type ShimSuite,
  startShimSuite,
  stopShimSuite,
  until,
} from "./harness/task-kit.js";

/**
 * How far the shim's resident memory may grow, measured after a warm-up: at the end of the run within
 * RSS_END_MIB of the start (a leak of 32 KiB per task would break it after 1,000 tasks), and at no sample more
 * than RSS_PEAK_MIB above it. V8 grows its heap in steps and gives memory back lazily, so a sample taken
 * before a collection can sit tens of MiB above the start without any leak.
 */
const RSS_END_MIB = 32;
const RSS_PEAK_MIB = 64;

/** The shim's resident set size in MiB (VmRSS of /proc/PID/status). */
async function rssMiB(shim: ShimHandle): Promise<number> {
  const status = await readFile(`/proc/${shim.pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

/**
 * `tasks` tasks in a row against a shim started with `opts`, whose children at rest are `pool` warm
 * runners.
 */
function leakSuite(tasks: number, opts: ShimOptions & { pool: number }, skip: string | false = false) {
  const TASKS = tasks;
  const POOL = opts.pool;
  describe(`${TASKS} tasks in a row, against a shim process (${JSON.stringify(opts)})`, { skip }, () => {
    let shim: ShimSuite["shim"];
    let task: ShimSuite["task"];
    let dir: string;
    let ref: ShimSuite["ref"];

    before(async () => {
      ({ shim, task, dir, ref } = await startShimSuite(["exit-code"], opts));
    });
    after(() => stopShimSuite({ shim, dir }));

    async function one(i: number): Promise<void> {
      const id = `leak-${i}`;
      const out = join(dir, "out");
      await task.create({
        id,
        stdout: `file://${out}`,
        options: imageOptions(ref("exit-code"), { args: [String(i % 7)] }),
      });
      const waiting = task.wait({ id });
      await task.start({ id });
      assert.equal((await waiting).exitStatus, i % 7, `task ${i}`);
      assert.equal((await task.delete({ id })).exitStatus, i % 7);
    }

    it(`${TASKS} create/start/wait/delete leave fds and children as they were`, async (t) => {
      // Warm up: the image pulled and cached, the gRPC connection up, the pool full; then V8's heap settled.
      for (let i = 0; i < 20; i++) await one(TASKS + i);
      await until(() => shim.childCount() === POOL, 10_000, `the warm pool to hold ${POOL} runners`);
      const fds = shim.fdCount();
      const children = shim.childCount();
      const rss = [await rssMiB(shim)];

      /** The pool refills after a task: wait until fds and children are back, then compare. */
      const settled = async (when: string) => {
        await until(
          () => shim.childCount() === children && shim.fdCount() <= fds,
          10_000,
          `children back to ${children} (now ${shim.childCount()}: ${shim.children().join(" ")}) and fds to ${fds} (now ${shim.fdCount()})`,
        ).catch((err: Error) => {
          assert.fail(
            `${when}: ${err.message}\nfds: ${fds} -> ${shim.fdCount()}, children: ${children} -> ${shim.childCount()}`,
          );
        });
        assert.equal(shim.fdCount(), fds, `open fds of the shim, ${when}`);
        assert.equal(shim.childCount(), children, `children of the shim, ${when}`);
        rss.push(await rssMiB(shim));
      };

      const t0 = performance.now();
      for (let i = 0; i < TASKS; i++) {
        await one(i);
        if (i === TASKS / 2 - 1) await settled("half way");
      }
      const ms = performance.now() - t0;
      await settled("at the end");
      // No zombie among them.
      for (const pid of shim.children()) {
        const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
        assert.doesNotMatch(stat.slice(stat.lastIndexOf(")") + 2), /^Z/, `child ${pid} is a zombie`);
      }
      const left = await readdir(shim.tasksDir).catch(() => []);
      assert.deepEqual(left, [], "task folders left in the shim's state");
      const trace = `${rss.map((r) => r.toFixed(1)).join(" -> ")} MiB`;
      const end = rss.at(-1)! - rss[0]!;
      const peak = Math.max(...rss) - rss[0]!;
      assert.ok(
        end <= RSS_END_MIB,
        `the shim's RSS grew ${end.toFixed(1)} MiB (${trace}), bound ${RSS_END_MIB}`,
      );
      assert.ok(peak <= RSS_PEAK_MIB, `the shim's RSS peaked ${peak.toFixed(1)} MiB up (${trace})`);
      t.diagnostic(
        `${TASKS} tasks in ${ms.toFixed(0)} ms (${(ms / TASKS).toFixed(1)} ms each); RSS MiB start/middle/end ${rss.map((r) => r.toFixed(1)).join(" ")}`,
      );
      recordFigures(t, {
        tasks: TASKS,
        "right exit statuses": TASKS,
        "samples (start, middle, end)": 3,
        "fd growth": 0,
        "children growth": 0,
        "RSS growth at the end": `<= ${RSS_END_MIB} MiB (held)`,
        "RSS growth at any sample": `<= ${RSS_PEAK_MIB} MiB (held)`,
        "task folders left": 0,
      });
    });
  });
}

// The warm pool serves unsandboxed runners only: the path where runners are recycled.
leakSuite(1000, { isolation: "none", pool: 2 });
// Under bwrap every runner starts cold, with bwrap as the shim's child.
leakSuite(50, { isolation: "bwrap", pool: 0 }, !bwrapWorks() && "bwrap cannot run here");
