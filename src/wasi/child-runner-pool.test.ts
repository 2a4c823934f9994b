import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { mkfifo, readFifoChunks, specFor, tempDir, testModule } from "../../test/harness/index.js";
import { ChildRunner } from "./child-runner.js";
import type { RunSpec } from "./runner.js";
import { findBwrap } from "./sandbox.js";

/**
 * A module that opens `link/written` in its first preopen with O_CREAT, writes "written\n" to it and exits
 * with path_open's WASI errno (0 when it could write). Built with wat2wasm from:
 *
 *   (module
 *     (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
 *     (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
 *     (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
 *     (memory (export "memory") 1)
 *     (data (i32.const 32) "link/written")
 *     (data (i32.const 48) "written\0a")
 *     (func (export "_start") (local $err i32)
 *       (local.set $err (call $path_open (i32.const 3) (i32.const 1) (i32.const 32) (i32.const 12)
 *         (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 0)))
 *       (if (local.get $err) (then (call $proc_exit (local.get $err))))
 *       (i32.store (i32.const 8) (i32.const 48))
 *       (i32.store (i32.const 12) (i32.const 8))
 *       (call $proc_exit (call $fd_write (i32.load (i32.const 0)) (i32.const 8) (i32.const 1) (i32.const 16)))))
 */
const WRITE_LINK = Buffer.from(
  "AGFzbQEAAAABHQRgCX9/f39/fn5/fwF/YAR/f39/AX9gAX8AYAAAAmkDFndhc2lfc25hcHNob3RfcHJldmlldzEJcGF0aF9vcGVuAAAWd2FzaV9zbmFwc2hvdF9wcmV2aWV3MQhmZF93cml0ZQABFndhc2lfc25hcHNob3RfcHJldmlldzEJcHJvY19leGl0AAIDAgEDBQMBAAEHEwIGbWVtb3J5AgAGX3N0YXJ0AAMKQwFBAQF/QQNBAUEgQQxBAULAAEIAQQBBABAAIQAgAARAIAAQAgtBCEEwNgIAQQxBCDYCAEEAKAIAQQhBAUEQEAEQAgsLHwIAQSALDGxpbmsvd3JpdHRlbgBBMAsId3JpdHRlbgo=",
  "base64",
);

const skip = findBwrap() ? false : "bwrap is missing or cannot create namespaces here";
const tmp = tempDir("nodewasi-pool-");
/** The shim's layout in small: module store (ro), task rootfs copies and stdio dir (rw), and the rest. */
const modules = join(tmp.dir, "modules");
const tasks = join(tmp.dir, "tasks");
const io = join(tmp.dir, "io");
const outside = join(tmp.dir, "outside");
const poolBinds = { rw: [tasks, io], ro: [modules] };
let runner: ChildRunner;

/** A module copied into the ro pool dir. */
const mod = (name: string) => join(modules, `${name}.wasm`);
/** A task rootfs under `parent` holding own.txt and `link` -> `target`. */
function rootfs(parent: string, name: string, target = "/etc"): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "own.txt"), `inside ${name}\n`);
  symlinkSync(target, join(dir, "link"));
  return dir;
}

async function waitWarm(r: ChildRunner, n: number): Promise<number[]> {
  const t0 = performance.now();
  while (r.warmPids().length < n) {
    if (performance.now() - t0 > 5000) assert.fail(`only ${r.warmPids().length} of ${n} warm runners booted`);
    await sleep(10);
  }
  return r.warmPids();
}

let n = 0;
/** Runs `spec` with stdout and stderr in files under `dir` (the io pool dir unless told). */
async function run(spec: RunSpec, r = runner, dir = io) {
  const out = join(dir, `out-${n}`);
  const err = join(dir, `err-${n++}`);
  const warm = r.warmPids();
  const p = await r.start({
    ...spec,
    stdout: { kind: "file", path: out },
    stderr: { kind: "file", path: err },
  });
  const status = await p.exited;
  return {
    status,
    warm: warm.includes(p.pid),
    out: readFileSync(out, "utf8"),
    err: readFileSync(err, "utf8"),
  };
}

before(() => {
  for (const d of [modules, tasks, io, outside]) mkdirSync(d);
  for (const m of ["read-file", "exit-code", "busy-loop", "grow-memory"]) copyFileSync(testModule(m), mod(m));
  writeFileSync(mod("write-link"), WRITE_LINK);
  runner = new ChildRunner({ isolation: skip ? "none" : "bwrap", pool: 2, poolBinds });
});
after(async () => {
  await runner.close();
  tmp.remove();
});

describe("warm sandboxed runners (poolBinds)", { skip }, () => {
  it("a spec under the pool dirs runs on a warm runner, still sandboxed: a link to /etc finds nothing", async () => {
    const root = rootfs(tasks, "t1");
    await waitWarm(runner, 2);
    const held = await run({
      ...specFor("read-file", ["/link/hostname"]),
      module: mod("read-file"),
      preopens: { "/": root },
    });
    assert.ok(held.warm, "served by a warm runner");
    assert.equal(held.status.code, 1, held.out);
    assert.equal(held.out, "");
    assert.match(held.err, /read-file: \/link\/hostname: No such file or directory/);
    await waitWarm(runner, 2);
    const own = await run({
      ...specFor("read-file", ["/own.txt"]),
      module: mod("read-file"),
      preopens: { "/": root },
    });
    assert.ok(own.warm);
    assert.equal(own.out, "inside t1\n");
  });

  it("a spec outside them starts cold, works, and is sandboxed with its own binds", async () => {
    const cases: [string, RunSpec][] = [];
    const out = rootfs(outside, "t2");
    cases.push([
      "preopen outside",
      { ...specFor("read-file", ["/own.txt"]), module: mod("read-file"), preopens: { "/": out } },
    ]);
    // A symlink under tasks/ leading out of the pool dirs disqualifies, resolved by realpath.
    symlinkSync(out, join(tasks, "t2-link"));
    cases.push([
      "preopen via a symlink out",
      {
        ...specFor("read-file", ["/own.txt"]),
        module: mod("read-file"),
        preopens: { "/": join(tasks, "t2-link") },
      },
    ]);
    // A module outside (examples/modules), and a preopen under the ro dir (it must stay writable: cold).
    cases.push([
      "module outside",
      specFor("read-file", ["/own.txt"], { preopens: { "/": rootfs(tasks, "t3") } }),
    ]);
    mkdirSync(join(modules, "data"));
    writeFileSync(join(modules, "data", "own.txt"), "in modules\n");
    cases.push([
      "preopen under ro",
      {
        ...specFor("read-file", ["/own.txt"]),
        module: mod("read-file"),
        preopens: { "/": join(modules, "data") },
      },
    ]);
    for (const [what, spec] of cases) {
      await waitWarm(runner, 2);
      const r = await run(spec);
      assert.equal(r.warm, false, `${what}: cold`);
      assert.equal(r.status.code, 0, `${what}: ${r.err}`);
      assert.match(r.out, /^in/, what);
    }
    // Stdio outside the pool dirs: cold too.
    await waitWarm(runner, 2);
    const r = await run({ ...specFor("exit-code", ["5"]), module: mod("exit-code") }, runner, outside);
    assert.equal(r.warm, false);
    assert.equal(r.status.code, 5);
    const escaped = await run({
      ...specFor("read-file", ["/link/hostname"]),
      module: mod("read-file"),
      preopens: { "/": out },
    });
    assert.equal(escaped.status.code, 1);
    assert.equal(escaped.out, "");
  });

  it("ro pool dirs are read-only for the guest, even through a link in its rootfs; rw ones are writable", async () => {
    const toModules = rootfs(tasks, "t4", modules);
    await waitWarm(runner, 2);
    const refused = await run({
      ...specFor("write-link"),
      module: mod("write-link"),
      preopens: { "/": toModules },
    });
    assert.ok(refused.warm);
    assert.equal(refused.status.code, 69, "path_open's errno: EROFS (without bwrap it writes there)");
    assert.equal(existsSync(join(modules, "written")), false);
    const sibling = join(tasks, "t5-target");
    mkdirSync(sibling);
    const toSibling = rootfs(tasks, "t5", sibling);
    await waitWarm(runner, 2);
    const wrote = await run({
      ...specFor("write-link"),
      module: mod("write-link"),
      preopens: { "/": toSibling },
    });
    assert.ok(wrote.warm);
    assert.equal(wrote.status.code, 0);
    assert.equal(readFileSync(join(sibling, "written"), "utf8"), "written\n");
  });

  it("pid, stats, pause and kill act on the warm runner's own host pid; the memory cap applies", async () => {
    const path = mkfifo(join(io, "busy.fifo"));
    const out = readFifoChunks(path);
    const warm = await waitWarm(runner, 2);
    const p = await runner.start({
      ...specFor("busy-loop", [], { stdout: { kind: "fifo", path } }),
      module: mod("busy-loop"),
    });
    assert.ok(warm.includes(p.pid));
    await out.first;
    assert.equal(readFileSync(`/proc/${p.pid}/cmdline`, "utf8").split("\0")[0], process.execPath);
    const s = await p.stats();
    assert.ok(s.memoryBytes > 10 * 1024 * 1024 && s.cpuNanos > 0);
    const state = () => readFileSync(`/proc/${p.pid}/stat`, "utf8").split(") ")[1]![0];
    p.pause();
    await sleep(50);
    assert.equal(state(), "T");
    p.resume();
    await sleep(50);
    assert.notEqual(state(), "T");
    p.kill("SIGTERM");
    const status = await p.exited;
    assert.equal(status.code, 143);
    assert.equal(status.signal, "SIGTERM");
    await waitWarm(runner, 2);
    const capped = await run({
      ...specFor("grow-memory", ["100"], { memoryLimit: 4 * 1024 * 1024 }),
      module: mod("grow-memory"),
    });
    assert.ok(capped.warm);
    assert.equal(capped.status.code, 1);
    assert.match(capped.out, /grow 100: failed at \d+ pages/);
  });

  it("a pool dir made after the runner started is picked up: stale warm runners are replaced", async () => {
    const later = join(tmp.dir, "later");
    const r = new ChildRunner({
      isolation: "bwrap",
      pool: 1,
      poolBinds: { rw: [tasks, io, later], ro: [modules] },
    });
    try {
      await waitWarm(r, 1);
      mkdirSync(later);
      const root = rootfs(later, "t6");
      const spec = {
        ...specFor("read-file", ["/own.txt"]),
        module: mod("read-file"),
        preopens: { "/": root },
      };
      const first = await run(spec, r);
      assert.equal(first.warm, false, "the warm runner was started without it");
      assert.equal(first.out, "inside t6\n");
      await waitWarm(r, 1);
      const second = await run(spec, r);
      assert.ok(second.warm);
      assert.equal(second.out, "inside t6\n");
    } finally {
      await r.close();
    }
  });

  it("a rootfs mounted below a pool dir after the warm runners started: cold unless the dir propagates mounts", {
    skip: process.getuid?.() === 0 ? false : "mounting an overlay needs root",
  }, async () => {
    // Issue 10 item 11: a task's rootfs is an overlay mounted at Create, after the warm sandboxes bound the
    // tasks folder. A sandbox that cannot see that mount shows the empty folder beneath it instead.
    const dir = join(tmp.dir, "mounts");
    const lower = rootfs(dir, "lower");
    const layer = (name: string) => {
      for (const d of ["upper", "work", "merged"]) mkdirSync(join(dir, name, d), { recursive: true });
      const merged = join(dir, name, "merged");
      execFileSync("mount", [
        "-t",
        "overlay",
        "overlay",
        "-o",
        `lowerdir=${lower},upperdir=${join(dir, name, "upper")},workdir=${join(dir, name, "work")}`,
        merged,
      ]);
      return merged;
    };
    const spec = (root: string) => ({
      ...specFor("read-file", ["/own.txt"]),
      module: mod("read-file"),
      preopens: { "/": root },
    });
    const r = new ChildRunner({ isolation: "bwrap", pool: 1, poolBinds: { rw: [dir, io], ro: [modules] } });
    const mounted: string[] = [];
    try {
      await waitWarm(r, 1);
      mounted.push(layer("private"));
      const hidden = await run(spec(mounted[0]!), r);
      assert.equal(hidden.warm, false, "not served by a sandbox that cannot see the mount");
      assert.equal(hidden.out, "inside lower\n");
      // Made a shared mount point (what the daemon does with <root>/tasks): the next warm runner sees new mounts.
      execFileSync("mount", ["--bind", dir, dir]); // over the private overlay, which is unmounted after it
      mounted.push(dir);
      execFileSync("mount", ["--make-shared", dir]);
      await run(spec(rootfs(dir, "plain")), r); // the stale warm runner is replaced (its binds' key changed)
      await waitWarm(r, 1);
      mounted.push(layer("shared"));
      const seen = await run(spec(mounted.at(-1)!), r);
      assert.ok(seen.warm, "served warm: the mount propagated into the sandbox");
      assert.equal(seen.out, "inside lower\n");
    } finally {
      await r.close();
      for (const m of mounted.reverse()) execFileSync("umount", ["-l", m]);
    }
  });

  it("start latency: warm sandboxed vs cold bwrap vs warm unsandboxed (measured, not asserted)", async (t) => {
    const cold = new ChildRunner({ isolation: "bwrap" });
    const bare = new ChildRunner({ isolation: "none", pool: 2 });
    try {
      await waitWarm(bare, 2);
      const time = async (r: ChildRunner) => {
        if (r !== cold) await waitWarm(r, 2);
        const t0 = performance.now();
        const p = await r.start({ ...specFor("exit-code"), module: mod("exit-code") });
        const started = performance.now() - t0;
        await p.exited;
        return [started, performance.now() - t0] as const;
      };
      const rows: Record<string, (readonly [number, number])[]> = {
        "warm bwrap": [],
        "cold bwrap": [],
        "warm none": [],
      };
      for (let i = 0; i < 7; i++) {
        rows["warm bwrap"]!.push(await time(runner));
        rows["cold bwrap"]!.push(await time(cold));
        rows["warm none"]!.push(await time(bare));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!.toFixed(1);
      for (const [what, xs] of Object.entries(rows)) {
        t.diagnostic(
          `${what}: start p50 ${median(xs.map((x) => x[0]))} ms, to exit p50 ${median(xs.map((x) => x[1]))} ms`,
        );
      }
    } finally {
      await Promise.all([cold.close(), bare.close()]);
    }
  });
});
