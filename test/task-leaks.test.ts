/**
 * No leaks in a shim process: 200 tasks run one after another (Create, Wait, Start, Wait, Delete of a tiny
 * module, stdout to a file) leave the shim's open fd count and its children where they started (its warm
 * pool refilled to the same fixed size), and no task folder behind; then 50 more under bwrap, in a second
 * shim, since sandboxed runners take another path (cold, under a bwrap parent).
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ShimOptions } from "./harness/shim.js";
import {
  bwrapWorks,
  imageOptions,
  type ShimSuite,
  startShimSuite,
  stopShimSuite,
  until,
} from "./harness/task-kit.js";

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
      // Warm up: the image pulled and cached, the gRPC connection up, the pool full.
      for (let i = 0; i < 3; i++) await one(TASKS + i);
      await until(() => shim.childCount() === POOL, 10_000, `the warm pool to hold ${POOL} runners`);
      const fds = shim.fdCount();
      const children = shim.childCount();

      const t0 = performance.now();
      for (let i = 0; i < TASKS; i++) await one(i);
      const ms = performance.now() - t0;

      // The pool refills after the last task: wait for that state, then compare.
      await until(
        () => shim.childCount() === children && shim.fdCount() <= fds,
        10_000,
        `children back to ${children} (now ${shim.childCount()}: ${shim.children().join(" ")}) and fds to ${fds} (now ${shim.fdCount()})`,
      ).catch((err: Error) => {
        assert.fail(
          `${err.message}\nfds: ${fds} -> ${shim.fdCount()}, children: ${children} -> ${shim.childCount()}`,
        );
      });
      assert.equal(shim.fdCount(), fds, "open fds of the shim");
      assert.equal(shim.childCount(), children, "children of the shim");
      // No zombie among them.
      for (const pid of shim.children()) {
        const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
        assert.doesNotMatch(stat.slice(stat.lastIndexOf(")") + 2), /^Z/, `child ${pid} is a zombie`);
      }
      const left = await readdir(join(shim.root, "state", "tasks")).catch(() => []);
      assert.deepEqual(left, [], "task folders left in the shim's state");
      t.diagnostic(`${TASKS} tasks in ${ms.toFixed(0)} ms (${(ms / TASKS).toFixed(1)} ms each)`);
    });
  });
}

// The warm pool serves unsandboxed runners only: the path where runners are recycled.
leakSuite(200, { isolation: "none", pool: 2 });
// Under bwrap every runner starts cold, with bwrap as the shim's child.
leakSuite(50, { isolation: "bwrap", pool: 0 }, !bwrapWorks() && "bwrap cannot run here");
