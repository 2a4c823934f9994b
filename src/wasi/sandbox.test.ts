import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mkfifo, readFifoChunks, specFor, tempDir } from "../../test/harness/index.js";
import { Code, ShimError } from "../internal/index.js";
import { ChildRunner } from "./child-runner.js";
import type { RunSpec } from "./runner.js";
import { findBwrap } from "./sandbox.js";

const skip = findBwrap() ? false : "bwrap is missing or cannot create namespaces here";
const tmp = tempDir("nodewasi-sandbox-");
const rootfs = join(tmp.dir, "rootfs");
let sandboxed: ChildRunner;
let bare: ChildRunner;
before(() => {
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, "own.txt"), "inside the rootfs\n");
  symlinkSync("/etc", join(rootfs, "link"));
  sandboxed = new ChildRunner({ isolation: skip ? "none" : "bwrap" });
  bare = new ChildRunner({ isolation: "none", pool: 0 });
});
after(async () => {
  await Promise.all([sandboxed.close(), bare.close()]);
  tmp.remove();
});

let n = 0;
async function run(r: ChildRunner, spec: RunSpec) {
  const out = join(tmp.dir, `out-${n}`);
  const err = join(tmp.dir, `err-${n++}`);
  const p = await r.start({
    ...spec,
    stdout: { kind: "file", path: out },
    stderr: { kind: "file", path: err },
  });
  return { status: await p.exited, out: readFileSync(out, "utf8"), err: readFileSync(err, "utf8") };
}

describe("isolation under bwrap (decision 8)", { skip }, () => {
  it("a rootfs symlink to /etc reaches the host's /etc without bwrap, and nothing with it", async () => {
    const spec = specFor("read-file", ["/link/hostname"], { preopens: { "/": rootfs } });
    const hostname = readFileSync("/etc/hostname", "utf8");
    // node:wasi alone: the escape of reference node-wasi.md §1.6, reproduced.
    const escaped = await run(bare, spec);
    assert.equal(escaped.status.code, 0);
    assert.equal(escaped.out, hostname);
    const held = await run(sandboxed, spec);
    assert.equal(held.status.code, 1, held.out);
    assert.equal(held.out, "");
    assert.match(held.err, /read-file: \/link\/hostname: No such file or directory/);
    const own = await run(sandboxed, specFor("read-file", ["/own.txt"], { preopens: { "/": rootfs } }));
    assert.equal(own.out, "inside the rootfs\n");
  });

  it("the reported pid is the runner's host pid: signals reach it, /proc stats are its own", async () => {
    const path = mkfifo(join(tmp.dir, "out.fifo"));
    const out = readFifoChunks(path);
    const p = await sandboxed.start(specFor("busy-loop", [], { stdout: { kind: "fifo", path } }));
    await out.first;
    const comm = readFileSync(`/proc/${p.pid}/cmdline`, "utf8").split("\0");
    assert.equal(comm[0], process.execPath, "the pid is node, not bwrap");
    const s = await p.stats();
    assert.ok(s.memoryBytes > 10 * 1024 * 1024 && s.cpuNanos > 0);
    const t0 = performance.now();
    p.kill("SIGTERM");
    const status = await p.exited;
    assert.equal(status.code, 143);
    assert.equal(status.signal, "SIGTERM");
    assert.ok(performance.now() - t0 < 1000);
  });

  it("exit statuses and traps come through bwrap unchanged", async () => {
    assert.equal((await run(sandboxed, specFor("exit-code", ["200"]))).status.code, 200);
    const trap = await run(sandboxed, specFor("trap"));
    assert.equal(trap.status.code, 134);
    assert.match(trap.err, /Error: wasm trap: unreachable/);
  });

  it("a mount whose host directory is missing is named as such, not blamed on bwrap", async () => {
    const spec = specFor("exit-code", [], {
      preopens: { "/": rootfs, "/data": join(tmp.dir, "no-such-dir") },
    });
    await assert.rejects(sandboxed.start(spec), (e: unknown) => {
      assert.ok(e instanceof ShimError && e.code === Code.NotFound, String(e));
      assert.match(e.message, /the host directory \S+\/no-such-dir for the guest's \/data does not exist/);
      assert.doesNotMatch(e.message, /bwrap/);
      return true;
    });
  });

  it("start latency, sandboxed (cold) vs warm pool (measured, not asserted)", async (t) => {
    const warm = new ChildRunner({ isolation: "none", pool: 2 });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const time = async (r: ChildRunner) => {
        const t0 = performance.now();
        await (await r.start(specFor("exit-code"))).exited;
        return performance.now() - t0;
      };
      const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
      const bw: number[] = [];
      const cold: number[] = [];
      const hot: number[] = [];
      for (let i = 0; i < 5; i++) {
        bw.push(await time(sandboxed));
        cold.push(await time(bare));
        hot.push(await time(warm));
      }
      t.diagnostic(
        `start to exit, ms: bwrap cold ${fmt(bw)}; no sandbox cold ${fmt(cold)}; warm pool ${fmt(hot)}`,
      );
    } finally {
      await warm.close();
    }
  });
});
