/**
 * Each task's own writable view of its image's rootfs (issue 10 item 11), through a shim process: an overlay
 * over the store's rootfs as root (a copy otherwise). What a guest writes, links or deletes stays in its task:
 * the store's files, and the next task of the image, see the image as built. A warm sandbox serves a task whose
 * overlay was mounted after it started, and a task id reused after its daemon was killed starts from the image,
 * not from the dead task's files.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Task } from "../src/gen/index.js";
import { readMountInfo } from "../src/internal/index.js";
import { buildImage, writeLayout } from "../src/oci/index.js";
import type { Client } from "../src/rpc/index.js";
import { BIN } from "./harness/index.js";
import { unmountUnder } from "./harness/mounts.js";
import { recordFigures } from "./harness/reliability.js";
import { type ShimHandle, startShim } from "./harness/shim.js";
import { bwrapWorks, imageOptions, MODULES_DIR, runTask, tempDir, until } from "./harness/task-kit.js";

const ROOT = process.getuid?.() === 0;

/** Mount points below `dir` now. */
function mountsBelow(dir: string): string[] {
  return readMountInfo()
    .map((e) => e.mountPoint)
    .filter((m) => m.startsWith(`${dir}/`));
}

/** When the process `pid` started, in clock ticks after boot (/proc/PID/stat field 22). */
function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
}

/** The boot clock now, in the same ticks (CLK_TCK is 100 on Linux). */
function ticksNow(): number {
  return Math.floor(Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]) * 100);
}

describe("a task's writable view of its image", () => {
  let dir: string;
  let ref: string;
  let shim: ShimHandle;
  let task: Client<typeof Task>;

  before(async () => {
    dir = await tempDir();
    const module = await readFile(join(MODULES_DIR, "fs-ops.wasm"));
    const files = [
      { path: "data/a.txt", data: Buffer.from("original\n") },
      { path: "data/c.txt", data: Buffer.from("to be removed\n") },
    ];
    await writeLayout(join(dir, "layout"), [
      { image: buildImage({ module, format: "image", entrypoint: "/fs-ops.wasm", files }), tag: "fs" },
    ]);
    ref = `oci:${join(dir, "layout")}:fs`;
    // A task writing a plain file in logs/ starts warm (only rotated logs start cold).
    await mkdir(join(dir, "root", "logs"), { recursive: true });
    shim = await startShim({ root: join(dir, "root") });
    task = shim.client(Task, { timeoutMs: 60_000 });
  });
  after(async () => {
    await shim?.stop();
    unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  });

  it("writes, links and deletes stay in the task: the store and the next task see the image as built", async (t) => {
    const changed = await runTask(task, "w1", ref, {
      args: [
        "append",
        "/data/a.txt",
        "more",
        "link",
        "/data/a.txt",
        "/data/b.txt",
        "append",
        "/data/b.txt",
        "again",
        "rm",
        "/data/c.txt",
        "write",
        "/new.txt",
        "hi",
        "read",
        "/data/a.txt",
      ],
    });
    assert.equal(changed.exitStatus, 0, changed.stdout + changed.stderr);
    assert.match(changed.stdout, /read \/data\/a.txt: original\|more\|again\|/);
    const [hex] = await readdir(join(shim.root, "rootfs"));
    const store = join(shim.root, "rootfs", hex!);
    assert.equal(await readFile(join(store, "data", "a.txt"), "utf8"), "original\n");
    assert.equal((await stat(join(store, "data", "a.txt"))).nlink, 1, "no link was made to the store's file");
    assert.deepEqual((await readdir(join(store, "data"))).sort(), ["a.txt", "c.txt"]);
    assert.deepEqual((await readdir(store)).sort(), ["data", "fs-ops.wasm"]);

    const next = await runTask(task, "w2", ref, {
      args: ["read", "/data/a.txt", "read", "/data/c.txt", "read", "/new.txt"],
    });
    assert.equal(next.exitStatus, 1, "the last read fails");
    assert.match(
      next.stdout,
      /read \/data\/a.txt: original\|\nread \/data\/c.txt: to be removed\|\nread \/new.txt: No such file/,
    );
    assert.deepEqual(mountsBelow(shim.tasksDir), [], "Delete unmounted the tasks' rootfs");
    assert.deepEqual(await readdir(shim.tasksDir), [], "Delete removed the tasks' folders");
    recordFigures(t, {
      "changes by the guest": "append, link, append via the link, rm, create",
      "store files changed": 0,
      "next task saw": "the image as built",
      "mounts left after Delete": 0,
    });
  });

  it("rmi and prune while a task runs keep the rootfs its overlay reads from, until the task is deleted", {
    skip: !ROOT && "needs root (overlayfs): a copied rootfs does not need the store's",
  }, async (t) => {
    const trigger = join(dir, "trigger");
    await mkdir(trigger, { recursive: true });
    const root = join(dir, "own-root");
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, [BIN, "--root", root, ...args], { encoding: "utf8", stdio: "pipe" });
    cli("pull", "-q", ref);
    const own = await startShim({ root });
    try {
      const owned = own.client(Task, { timeoutMs: 60_000 });
      const out = join(dir, "prune.out");
      await owned.create({
        id: "reader",
        stdout: `file://${out}`,
        options: imageOptions(ref, {
          args: ["waitfor", "/in/go", "read", "/data/a.txt"],
          mounts: [{ source: trigger, destination: "/in" }],
        }),
      });
      const waiting = owned.wait({ id: "reader" });
      await owned.start({ id: "reader" });
      cli("rmi", ref);
      cli("prune");
      assert.equal((await readdir(join(root, "rootfs"))).length, 1, "prune kept the rootfs in use");
      await writeFile(join(trigger, "go"), "");
      assert.equal((await waiting).exitStatus, 0, await readFile(out, "utf8"));
      assert.equal(await readFile(out, "utf8"), "waitfor /in/go: ok\nread /data/a.txt: original|\n");
      await owned.delete({ id: "reader" });
      cli("prune");
      assert.deepEqual(await readdir(join(root, "rootfs")), [], "and removed it once the task was gone");
      recordFigures(t, {
        "rmi and prune during the task": "rootfs kept",
        "after Delete, prune": "removed it",
      });
    } finally {
      await own.stop();
    }
  });

  it("a warm sandboxed runner serves a task whose overlay was mounted after it started", {
    skip: !(ROOT && bwrapWorks()) && "needs root (overlayfs) and bwrap (warm sandboxes)",
  }, async () => {
    await until(() => shim.childCount() >= 2, 20_000, "a full warm pool");
    await new Promise((r) => setTimeout(r, 500)); // the warm runners have booted
    const before = ticksNow();
    const out = join(shim.root, "logs", "warm.log");
    await task.create({
      id: "warm",
      stdout: `file://${out}`,
      stderr: `file://${out}`,
      options: imageOptions(ref, { args: ["read", "/data/a.txt", "sleep", "60000"] }),
    });
    const waiting = task.wait({ id: "warm" });
    const { pid } = await task.start({ id: "warm" });
    await until(async () => (await readFile(out, "utf8")).includes("\n"), 20_000, "the guest's first line");
    assert.ok(startTicks(pid) < before, "the task runs on a runner started before it was created");
    assert.equal(await readFile(out, "utf8"), "read /data/a.txt: original|\n");
    await task.kill({ id: "warm", signal: 9 });
    await waiting;
    await task.delete({ id: "warm" });
  });
});

describe("a task id reused after its daemon was killed", () => {
  let dir: string;
  let ref: string;
  const shims: ShimHandle[] = [];

  before(async () => {
    dir = await tempDir();
    const module = await readFile(join(MODULES_DIR, "fs-ops.wasm"));
    await writeLayout(join(dir, "layout"), [
      { image: buildImage({ module, format: "image", entrypoint: "/fs-ops.wasm" }), tag: "fs" },
    ]);
    ref = `oci:${join(dir, "layout")}:fs`;
  });
  after(async () => {
    for (const s of shims) await s.stop();
    unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  });

  it("starts from the image, not from the dead task's files; the new daemon unmounts what the old one left", async (t) => {
    const root = join(dir, "root");
    const first = await startShim({ root });
    shims.push(first);
    const task = first.client(Task, { timeoutMs: 60_000 });
    const out = join(dir, "first.out");
    await task.create({
      id: "same",
      stdout: `file://${out}`,
      options: imageOptions(ref, { args: ["write", "/left-behind.txt", "x", "sleep", "60000"] }),
    });
    await task.start({ id: "same" });
    await until(
      async () => (await readFile(out, "utf8").catch(() => "")).includes("ok"),
      20_000,
      "the write",
    );
    process.kill(first.pid, "SIGKILL");
    await first.exited;
    const left = mountsBelow(first.tasksDir).length;

    const second = await startShim({ root });
    shims.push(second);
    assert.deepEqual(mountsBelow(second.tasksDir), [], "no rootfs of the killed daemon is mounted any more");
    const again = await runTask(second.client(Task, { timeoutMs: 60_000 }), "same", ref, {
      args: ["read", "/left-behind.txt", "read", "/fs-ops.wasm"],
    });
    assert.equal(again.exitStatus, 1, again.stdout);
    assert.match(again.stdout, /^read \/left-behind.txt: No such file or directory\n/);
    assert.deepEqual(mountsBelow(second.tasksDir), []);
    await second.stop();
    assert.deepEqual(
      mountsBelow(dir),
      [],
      "the daemon after it undid even the shared bind the killed one left",
    );
    recordFigures(t, {
      "daemon killed with": "SIGKILL",
      "rootfs left mounted": ROOT ? ">= 1" : 0,
      "left mounted after the next daemon started": 0,
      "left mounted after the next daemon stopped": 0,
      "the dead task's file seen by the new one": "no",
    });
    assert.ok(!ROOT || left >= 1, "as root the killed daemon's task had an overlay mounted");
  });
});
