import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { mkfifo, tempDir } from "../../test/harness/index.js";
import { ChildRunner } from "./child-runner.js";
import { findBwrap } from "./sandbox.js";

const tmp = tempDir();
after(async () => {
  // The SIGKILLed parent left its slots' room mounted (a killed daemon does): the next runner opened on the
  // same folder removes it.
  if (process.getuid?.() === 0 && findBwrap()) {
    await new ChildRunner({ isolation: "bwrap", pool: 1, slots: join(tmp.dir, "slots") }).close();
  }
  tmp.remove();
});

/** Running, or stopped, but not a zombie: an orphan's zombie waits for whoever adopts it to reap it. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

const variants = [
  { name: "", opts: { isolation: "none", pool: 2 }, skip: false as string | false },
  {
    name: " (warm runners under bwrap)",
    opts: { isolation: "bwrap", pool: 2, slots: join(tmp.dir, "slots") },
    skip: findBwrap() ? false : "bwrap is missing or cannot create namespaces here",
  },
];

describe("runner processes die with their parent", () => {
  for (const v of variants)
    it(`a guest blocked in fd_read, a busy guest and idle warm runners all end when the shim is SIGKILLed${v.name}`, {
      skip: v.skip,
    }, async (t) => {
      const fifo = mkfifo(join(tmp.dir, `stdin${v.name ? "-bwrap" : ""}.fifo`));
      const script = join(tmp.dir, `parent${v.name ? "-bwrap" : ""}.mjs`);
      // The parent holds the stdin FIFO's write end itself (O_RDWR never blocks), so the guest blocks in read.
      writeFileSync(
        script,
        `import { openSync } from "node:fs";
      import { ChildRunner } from ${JSON.stringify(new URL("./child-runner.js", import.meta.url).href)};
      import { specFor } from ${JSON.stringify(new URL("../../test/harness/runner-kit.js", import.meta.url).href)};
      const hold = openSync(${JSON.stringify(fifo)}, "r+");
      const r = new ChildRunner(${JSON.stringify(v.opts)});
      const a = await r.start(specFor("cat-stdin", [], { stdin: { kind: "fifo", path: ${JSON.stringify(fifo)} } }));
      const b = await r.start(specFor("busy-loop"));
      for (let i = 0; i < 100 && r.warmPids().length < 2; i++) await new Promise((res) => setTimeout(res, 20));
      const warm = r.warmPids();
      console.log(JSON.stringify([a.pid, b.pid, ...warm]));
      setInterval(() => {}, 1000);`,
      );
      const parent = spawn(process.execPath, ["--no-warnings", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      for await (const c of parent.stdout) {
        out += c;
        if (out.includes("\n")) break;
      }
      const pids = JSON.parse(out) as number[];
      assert.equal(pids.length, 4, out);
      assert.ok(pids.every(alive));
      parent.kill("SIGKILL");
      const t0 = performance.now();
      while (pids.some(alive) && performance.now() - t0 < 2000) await sleep(20);
      const took = performance.now() - t0;
      assert.deepEqual(pids.filter(alive), [], `still alive after ${took.toFixed(0)} ms`);
      t.diagnostic(`all 4 runners gone ${took.toFixed(0)} ms after the parent died`);
    });
});
