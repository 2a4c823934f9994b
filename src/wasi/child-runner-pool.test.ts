import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { mkfifo, readFifoChunks, specFor, tempDir, testModule } from "../../test/harness/index.js";
import { mountsBelow } from "../internal/index.js";
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

const skip = !findBwrap()
  ? "bwrap is missing or cannot create namespaces here"
  : process.getuid?.() !== 0
    ? "warm sandboxes bind a task into their slot, which needs root"
    : false;
const tmp = tempDir("nodewasi-pool-");
/** The shim's layout in small: module store, task rootfs views and stdio dir, and the runner's slots. */
const modules = join(tmp.dir, "modules");
const tasks = join(tmp.dir, "tasks");
const io = join(tmp.dir, "io");
const slots = join(tmp.dir, "slots");
let runner: ChildRunner;

/** A module copied into the module dir. */
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
    if (performance.now() - t0 > 10_000)
      assert.fail(`only ${r.warmPids().length} of ${n} warm runners booted`);
    await sleep(10);
  }
  return r.warmPids();
}

let n = 0;
/** Runs `spec` with stdout and stderr in files under `dir`. */
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
  await p.released; // the exit is reported before the slot is released
  return {
    status,
    warm: warm.includes(p.pid),
    out: readFileSync(out, "utf8"),
    err: readFileSync(err, "utf8"),
  };
}

/** The room directories under `base` (one per ChildRunner) and every mount below `base`. */
function roomsOf(base: string): { rooms: string[]; mounts: string[] } {
  return { rooms: existsSync(base) ? readdirSync(base) : [], mounts: mountsBelow(base) };
}

before(() => {
  for (const d of [modules, tasks, io]) mkdirSync(d);
  for (const m of ["read-file", "exit-code", "busy-loop", "grow-memory"]) copyFileSync(testModule(m), mod(m));
  writeFileSync(mod("write-link"), WRITE_LINK);
  if (!skip) runner = new ChildRunner({ isolation: "bwrap", pool: 2, slots });
});
after(async () => {
  await runner?.close();
  tmp.remove();
});

describe("warm sandboxed runners (slots)", { skip }, () => {
  it("a spec runs on a warm runner, still sandboxed: a link to /etc finds nothing, its own files are there", async () => {
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

  it("a warm guest sees nothing of a sibling task: not its rootfs, not the tasks folder, not the module store", async () => {
    // A sibling task's rootfs in the same tasks folder, running meanwhile; links in this task's rootfs lead to
    // its host path, to the tasks folder and to the modules (each once served by a warm sandbox that bound
    // those folders whole).
    const sibling = rootfs(tasks, "sibling");
    const fifo = mkfifo(join(io, "sibling.fifo"));
    const out = readFifoChunks(fifo);
    await waitWarm(runner, 2);
    const other = await runner.start({
      ...specFor("busy-loop", [], { stdout: { kind: "fifo", path: fifo } }),
      module: mod("busy-loop"),
      preopens: { "/": sibling },
    });
    await out.first;
    const root = rootfs(tasks, "prober", sibling);
    symlinkSync(tasks, join(root, "tasks"));
    symlinkSync(modules, join(root, "modules"));
    try {
      for (const path of ["/link/own.txt", "/tasks/sibling/own.txt", "/modules/exit-code.wasm"]) {
        await waitWarm(runner, 2);
        const r = await run({
          ...specFor("read-file", [path]),
          module: mod("read-file"),
          preopens: { "/": root },
        });
        assert.ok(r.warm, path);
        assert.equal(r.status.code, 1, `${path}: ${r.out}`);
        assert.equal(r.out, "", path);
      }
    } finally {
      other.kill("SIGKILL");
      await other.exited;
    }
  });

  it("a rootfs mounted after the warm sandboxes started (an overlay at Create) is served warm", async () => {
    const dir = join(tmp.dir, "mounts");
    const lower = rootfs(dir, "lower");
    for (const d of ["upper", "work", "merged"]) mkdirSync(join(dir, d), { recursive: true });
    await waitWarm(runner, 2);
    const merged = join(dir, "merged");
    execFileSync("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${lower},upperdir=${join(dir, "upper")},workdir=${join(dir, "work")}`,
      merged,
    ]);
    try {
      const seen = await run({
        ...specFor("read-file", ["/own.txt"]),
        module: mod("read-file"),
        preopens: { "/": merged },
      });
      assert.ok(seen.warm, "served warm");
      assert.equal(seen.out, "inside lower\n");
    } finally {
      execFileSync("umount", [merged]);
    }
  });

  it("a slot is unmounted and removed once its task has exited (released), also when it was killed", async () => {
    const { rooms } = roomsOf(slots);
    assert.equal(rooms.length, 1, "one room: this runner's");
    const room = join(slots, rooms[0]!);
    const before = readdirSync(room).filter((e) => !e.endsWith(".fstab"));
    await waitWarm(runner, 2);
    const r = await run({ ...specFor("exit-code", ["3"]), module: mod("exit-code") });
    assert.ok(r.warm);
    assert.equal(r.status.code, 3);
    const fifo = mkfifo(join(io, "killed.fifo"));
    const out = readFifoChunks(fifo);
    await waitWarm(runner, 2);
    const p = await runner.start({
      ...specFor("busy-loop", [], { stdout: { kind: "fifo", path: fifo } }),
      module: mod("busy-loop"),
      preopens: { "/": rootfs(tasks, "killed") },
    });
    await out.first;
    assert.ok(mountsBelow(room).length >= 3, "its preopen, module and FIFO are bound in its slot");
    p.kill("SIGKILL");
    assert.equal((await p.exited).code, 137);
    await p.released;
    await waitWarm(runner, 2);
    // What is left: the idle warm runners' empty slots, and no mount at all.
    assert.deepEqual(mountsBelow(room), []);
    const now = readdirSync(room);
    assert.equal(now.length, 2, `two idle slots: ${now.join(", ")}`);
    assert.ok(now.every((e) => !before.includes(e)) || before.length === 2);
  });

  it("the slots of a runner killed mid-task are unmounted and removed when the next runner starts", async () => {
    const base = join(tmp.dir, "killed-slots");
    const fifo = mkfifo(join(io, "orphan.fifo"));
    const script = join(tmp.dir, "orphan.mjs");
    writeFileSync(
      script,
      `import { ChildRunner } from ${JSON.stringify(new URL("./child-runner.js", import.meta.url).href)};
      import { specFor } from ${JSON.stringify(new URL("../../test/harness/runner-kit.js", import.meta.url).href)};
      const r = new ChildRunner({ isolation: "bwrap", pool: 1, slots: ${JSON.stringify(base)} });
      while (r.warmPids().length < 1) await new Promise((res) => setTimeout(res, 10));
      const p = await r.start(specFor("busy-loop", [], { stdout: { kind: "fifo", path: ${JSON.stringify(fifo)} } }));
      console.log(p.pid);
      setInterval(() => {}, 1000);`,
    );
    const out = readFifoChunks(fifo);
    const parent = spawn(process.execPath, ["--no-warnings", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    for await (const _ of parent.stdout) break;
    await out.first;
    parent.kill("SIGKILL");
    await new Promise((r) => parent.once("close", r));
    const left = roomsOf(base);
    assert.equal(left.rooms.length, 1);
    assert.ok(
      left.mounts.length >= 3,
      `the killed runner's room and slot stay mounted: ${left.mounts.join(", ")}`,
    );
    const next = new ChildRunner({ isolation: "bwrap", pool: 1, slots: base });
    try {
      await waitWarm(next, 1);
      const now = roomsOf(base);
      assert.equal(now.rooms.length, 1, "only the new runner's room");
      assert.notEqual(now.rooms[0], left.rooms[0]);
      assert.deepEqual(now.mounts, [join(base, now.rooms[0]!)], "no mount left but the new room itself");
    } finally {
      await next.close();
    }
    assert.deepEqual(roomsOf(base), { rooms: [], mounts: [] }, "close() removes its room");
  });

  it("a spec whose module cannot be bound starts cold and fails as a cold one does; messages name host paths", async () => {
    await waitWarm(runner, 2);
    const missing = join(modules, "missing.wasm");
    await assert.rejects(runner.start({ ...specFor("exit-code"), module: missing }), (err: Error) =>
      err.message.includes(missing),
    );
    const bad = join(modules, "bad.wasm");
    writeFileSync(bad, "not wasm at all");
    await waitWarm(runner, 2);
    const warm = runner.warmPids();
    await assert.rejects(runner.start({ ...specFor("exit-code"), module: bad }), (err: Error) => {
      assert.match(err.message, new RegExp(`module ${bad}: not a valid wasm module`));
      return true;
    });
    assert.notDeepEqual(runner.warmPids(), warm, "a warm runner took it");
  });

  it("a rotated log starts cold (its folder holds other tasks' logs)", async () => {
    await waitWarm(runner, 2);
    const warm = runner.warmPids();
    const log = join(io, "rotated.log");
    const p = await runner.start({
      ...specFor("exit-code", ["4"]),
      module: mod("exit-code"),
      stdout: { kind: "file", path: log, rotate: { maxSize: 1 << 20, maxFiles: 2 } },
    });
    assert.ok(!warm.includes(p.pid), "cold");
    assert.equal((await p.exited).code, 4);
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
