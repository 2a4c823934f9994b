/**
 * Refusals through a shim process, and what they leave: a Create that fails (missing image, bundle without
 * a wasm module, no space left, anything after the task folder is made) leaves no task behind (the id can be
 * used again, no task folder stays); ids that are not containerd identifiers are refused (issue 10 item 13);
 * two Creates of one id never share a folder; calls in the wrong state answer FailedPrecondition; several
 * tasks run at once, each with its own exit status.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Status } from "../src/gen/index.js";
import { Code, ShimError } from "../src/internal/index.js";
import {
  imageOptions,
  MODULES_DIR,
  runTask,
  type ShimSuite,
  startShimSuite,
  stopShimSuite,
} from "./harness/task-kit.js";
import { mountSkipReason, mountTmpfs, unmount } from "./harness/tmpfs.js";

function rejectsWith(p: Promise<unknown>, code: Code, message?: RegExp): Promise<void> {
  return assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ShimError, `not a ShimError: ${String(err)}`);
    assert.equal(Code[err.code], Code[code], err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe("refusals and concurrency, against a shim process", () => {
  let shim: ShimSuite["shim"];
  let task: ShimSuite["task"];
  let dir: string;
  let ref: ShimSuite["ref"];

  before(async () => {
    ({ shim, task, dir, ref } = await startShimSuite(["exit-code", "sleep-ms", "read-file"]));
  });
  after(() => stopShimSuite({ shim, dir }));

  it("a Create of a missing image fails, leaves no task and no folder, and the id is free again", async () => {
    await assert.rejects(
      task.create({ id: "ghost", options: imageOptions(`oci:${join(dir, "layout")}:no-such-tag`) }),
      (err: ShimError) => {
        assert.ok(err instanceof ShimError);
        assert.match(err.message, /no-such-tag/);
        return true;
      },
    );
    await rejectsWith(task.state({ id: "ghost" }), Code.NotFound);
    const left = await readdir(shim.tasksDir).catch(() => []);
    assert.deepEqual(left, [], "a task folder stayed after a failed Create");
    const run = await runTask(task, "ghost", ref("exit-code"), { args: ["4"] });
    assert.equal(run.exitStatus, 4);
  });

  it("a bundle whose process.args[0] is not wasm is refused with FailedPrecondition, naming it", async () => {
    const bundle = join(dir, "notwasm");
    await mkdir(join(bundle, "rootfs"), { recursive: true });
    await writeFile(join(bundle, "rootfs", "app"), "#!/bin/sh\necho not wasm\n");
    await writeFile(
      join(bundle, "config.json"),
      JSON.stringify({ process: { args: ["/app"] }, root: { path: "rootfs" } }),
    );
    await rejectsWith(
      task.create({ id: "notwasm", bundle }),
      Code.FailedPrecondition,
      /\/app is not a WebAssembly module/,
    );
    await rejectsWith(task.state({ id: "notwasm" }), Code.NotFound);
    // The same bundle with a module works.
    await copyFile(join(MODULES_DIR, "exit-code.wasm"), join(bundle, "rootfs", "app"));
    await task.create({ id: "notwasm", bundle });
    const waiting = task.wait({ id: "notwasm" });
    await task.start({ id: "notwasm" });
    assert.equal((await waiting).exitStatus, 0);
    await task.delete({ id: "notwasm" });
  });

  it("calls in the wrong state: Start twice, Pause of a created task, Resume of a running one", async () => {
    await task.create({ id: "st", options: imageOptions(ref("sleep-ms"), { args: ["60000"] }) });
    await rejectsWith(task.pause({ id: "st" }), Code.FailedPrecondition);
    const waiting = task.wait({ id: "st" });
    await task.start({ id: "st" });
    await rejectsWith(task.start({ id: "st" }), Code.FailedPrecondition);
    await rejectsWith(task.resume({ id: "st" }), Code.FailedPrecondition);
    assert.equal(Status[(await task.state({ id: "st" })).status], "RUNNING");
    await task.kill({ id: "st", signal: 9 });
    assert.equal((await waiting).exitStatus, 137);
    await rejectsWith(task.start({ id: "st" }), Code.FailedPrecondition);
    await task.delete({ id: "st" });
  });

  it("a Create refused for a relative mount leaves no task folder behind", async () => {
    await rejectsWith(
      task.create({
        id: "badmount",
        options: imageOptions(ref("exit-code"), {
          mounts: [{ source: "relative/dir", destination: "/data" }],
        }),
      }),
      Code.InvalidArgument,
      /relative\/dir/,
    );
    await rejectsWith(task.state({ id: "badmount" }), Code.NotFound);
    const left = await readdir(shim.tasksDir).catch(() => []);
    assert.deepEqual(left, [], "a task folder stayed after a refused Create");
  });

  it("task ids that are not containerd identifiers are refused before anything is made", async () => {
    const before = await readdir(shim.root);
    for (const id of ["../evil", "a/b", "..", ".", "-lead", "a..b", "a__b", "x".repeat(10_000)]) {
      await rejectsWith(
        task.create({ id, options: imageOptions(ref("exit-code")) }),
        Code.InvalidArgument,
        /Create: the task id "[^"]*" (is not a valid id: use letters and digits|is \d+ characters long; at most 76)/,
      );
    }
    assert.deepEqual(await readdir(shim.root), before, "nothing was made in the root");
    assert.deepEqual(await readdir(shim.tasksDir).catch(() => []), []);
    const run = await runTask(task, "a".repeat(76), ref("exit-code"), { args: ["5"] });
    assert.equal(run.exitStatus, 5, "76 characters are allowed, as containerd allows");
  });

  it("exec ids are checked the same way", async () => {
    await task.create({ id: "execs", options: imageOptions(ref("sleep-ms"), { args: ["60000"] }) });
    const waiting = task.wait({ id: "execs" });
    await task.start({ id: "execs" });
    const spec = {
      typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process",
      value: Buffer.from("{}"),
    };
    for (const execId of ["../x", "a/b", ""]) {
      await rejectsWith(
        task.exec({ id: "execs", execId, spec }),
        Code.InvalidArgument,
        /Exec in execs: the exec id/,
      );
    }
    await task.kill({ id: "execs", signal: 9 });
    await waiting;
    await task.delete({ id: "execs" });
  });

  it("two Creates of one id at once: one wins, the other is AlreadyExists, the task folder holds one image", async () => {
    const images = ["sleep-ms", "exit-code"] as const;
    const results = await Promise.allSettled(
      images.map((m) => task.create({ id: "twin", options: imageOptions(ref(m), { args: ["60000"] }) })),
    );
    const won = results.findIndex((r) => r.status === "fulfilled");
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    assert.ok(won >= 0 && lost, JSON.stringify(results.map((r) => r.status)));
    assert.equal(Code[(lost.reason as ShimError).code], "AlreadyExists");
    assert.deepEqual(await readdir(join(shim.tasksDir, "twin", "rootfs")), [`${images[won]}.wasm`]);
    await task.delete({ id: "twin" });
    assert.deepEqual(await readdir(shim.tasksDir), []);
  });

  it("a Create that fails after the task folder is made removes it, and the id is free again", async () => {
    // The rootfs cannot be made where a file already is: a failure after the folder exists, as ENOSPC is.
    await mkdir(join(shim.tasksDir, "blocked"), { recursive: true });
    await writeFile(join(shim.tasksDir, "blocked", "rootfs"), "not a folder");
    await assert.rejects(task.create({ id: "blocked", options: imageOptions(ref("exit-code")) }));
    await rejectsWith(task.state({ id: "blocked" }), Code.NotFound);
    assert.deepEqual(await readdir(shim.tasksDir), [], "the failed Create's task folder stayed");
    const run = await runTask(task, "blocked", ref("exit-code"), { args: ["3"] });
    assert.equal(run.exitStatus, 3);
  });

  it("a Start that fails (stdout FIFO path missing) leaves the task CREATED and deletable", async () => {
    const missing = join(dir, "no-such-dir", "out.fifo");
    await task.create({ id: "nostdout", stdout: missing, options: imageOptions(ref("exit-code")) });
    await assert.rejects(task.start({ id: "nostdout" }), (err: ShimError) => {
      assert.ok(err instanceof ShimError);
      assert.match(err.message, /no-such-dir/);
      return true;
    });
    assert.equal(Status[(await task.state({ id: "nostdout" })).status], "CREATED");
    await task.delete({ id: "nostdout" });
    await rejectsWith(task.state({ id: "nostdout" }), Code.NotFound);
  });

  it("a Wait that hits its deadline does not disturb the task", async () => {
    await task.create({ id: "dl", options: imageOptions(ref("sleep-ms"), { args: ["60000"] }) });
    const waiting = task.wait({ id: "dl" });
    await task.start({ id: "dl" });
    await rejectsWith(task.wait({ id: "dl" }, { timeoutMs: 200 }), Code.DeadlineExceeded);
    assert.equal(Status[(await task.state({ id: "dl" })).status], "RUNNING");
    await task.kill({ id: "dl", signal: 15 });
    assert.equal((await waiting).exitStatus, 143);
    await task.delete({ id: "dl" });
  });

  it("CreateOptions mounts are preopens the guest reads", async () => {
    const data = join(dir, "data");
    await mkdir(data, { recursive: true });
    await writeFile(join(data, "note.txt"), "from the host\n");
    const run = await runTask(task, "mnt", ref("read-file"), {
      args: ["/data/note.txt"],
      mounts: [{ source: data, destination: "/data" }],
    });
    assert.equal(run.exitStatus, 0, run.stderr);
    assert.equal(run.stdout, "from the host\n");
  });

  it("8 tasks at once, each with its own exit status", async () => {
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        runTask(task, `par-${i}`, ref("exit-code"), { args: [String(10 + i)] }),
      ),
    );
    assert.deepEqual(
      runs.map((r) => r.exitStatus),
      Array.from({ length: 8 }, (_, i) => 10 + i),
    );
    assert.equal(new Set(runs.map((r) => r.pid)).size, 8, "pids are not distinct");
  });
});

describe("a Create that runs out of space (ENOSPC) in the task folder", {
  skip: mountSkipReason() ?? false,
}, () => {
  let suite: ShimSuite | undefined;
  let mounted: string | undefined;
  before(async () => {
    suite = await startShimSuite(["exit-code"]);
  });
  after(async () => {
    if (mounted) unmount(mounted);
    await stopShimSuite(suite ?? {});
  });

  it("fails with ResourceExhausted and leaves no task folder; the same id works once there is space", async () => {
    const { shim, task, ref } = suite!;
    // Two inodes: the tmpfs's own folder and the task's; its rootfs gets none.
    mountTmpfs(shim.tasksDir, "size=1m,nr_inodes=2");
    mounted = shim.tasksDir;
    await rejectsWith(
      task.create({ id: "full", options: imageOptions(ref("exit-code")) }),
      Code.ResourceExhausted,
      /no space left on device/,
    );
    await rejectsWith(task.state({ id: "full" }), Code.NotFound);
    assert.deepEqual(await readdir(shim.tasksDir), [], "the task folder stayed on the full device");
    unmount(mounted);
    mounted = undefined;
    const run = await runTask(task, "full", ref("exit-code"), { args: ["7"] });
    assert.equal(run.exitStatus, 7);
  });
});
