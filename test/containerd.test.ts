/**
 * nodewasi under a real containerd (Debian's 1.6.20 in CI): `ctr` imports an OCI archive of the example
 * images and runs them with `--runtime io.containerd.nodewasi.v1`, which resolves to
 * bin/containerd-shim-nodewasi-v1 through containerd's PATH (test/harness/containerd.ts). Skipped, with the
 * reason, when containerd cannot run here (not root, not installed).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isProcessAlive } from "../src/internal/index.js";
import { buildImage, buildIndex, writeLayoutArchive } from "../src/oci/index.js";
import {
  containerdUnavailable,
  nodewasiImage,
  type PrivateContainerd,
  processDescendants,
  REPO_DIR,
  SHIM_RUNTIME,
  startContainerd,
} from "./harness/containerd.js";
import { recordFigures } from "./harness/reliability.js";

const PLATFORM = { architecture: "wasm", os: "wasip1" };
const IMAGE = "nodewasi.test/app";

/** An OCI archive holding `hello`, `sleep` and `exit` images (wasip1/wasm, one plain tar layer each). */
async function imageArchive(dir: string): Promise<string> {
  // Every image also carries hello.wasm, for `ctr task exec`.
  const hello = readFileSync(join(REPO_DIR, "examples/hello/hello.wasm"));
  const image = (file: string, entrypoint: string) =>
    buildImage({
      module: readFileSync(join(REPO_DIR, file)),
      format: "image",
      platform: PLATFORM,
      entrypoint,
      compression: "none",
      ...(entrypoint === "/hello.wasm" ? {} : { files: [{ path: "hello.wasm", data: hello }] }),
    });
  const archive = join(dir, "images.tar");
  await writeLayoutArchive(archive, [
    { image: image("examples/hello/hello.wasm", "/hello.wasm"), tag: "hello" },
    { image: image("examples/modules/sleep-ms.wasm", "/sleep-ms.wasm"), tag: "sleep" },
    { image: image("examples/modules/exit-code.wasm", "/exit-code.wasm"), tag: "exit" },
    // A multi-platform index as published for mixed clusters: linux/amd64 (not wasm) + wasi/wasm.
    {
      image: buildIndex([
        {
          image: buildImage({
            module: Buffer.from("#!/bin/sh\necho native\n"),
            format: "image",
            platform: { architecture: "amd64", os: "linux" },
            entrypoint: "/hello.sh",
            compression: "none",
          }),
        },
        {
          image: buildImage({
            module: readFileSync(join(REPO_DIR, "examples/hello/hello.wasm")),
            format: "image",
            platform: { architecture: "wasm", os: "wasi" },
            entrypoint: "/hello.wasm",
            compression: "none",
          }),
        },
      ]),
      tag: "multi",
    },
  ]);
  return archive;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const skip = containerdUnavailable();

describe("containerd runs wasm images through containerd-shim-nodewasi-v1", { skip: skip ?? false }, () => {
  let ctd: PrivateContainerd;

  /** `ctr task ls`'s row for `id`, split into its columns (TASK, PID, STATUS), or undefined. */
  const taskRow = async (id: string): Promise<string[] | undefined> =>
    (await ctd.ctr(["task", "ls"])).stdout
      .split("\n")
      .find((l) => l.startsWith(`${id} `))
      ?.trim()
      .split(/\s+/);

  /** `ctr run -d` of the sleep module for `ms` as task `id`, with `io` (e.g. --null-io) before the image. */
  const runSleeper = async (id: string, ms: number, io: string[]) => {
    const started = await ctd.ctr([
      "run",
      "-d",
      ...io,
      ...nodewasiImage(`${IMAGE}:sleep`),
      id,
      "/sleep-ms.wasm",
      String(ms),
    ]);
    assert.equal(started.code, 0, ctd.explain(started));
  };
  let tmp: string;
  const run = (
    id: string,
    extra: string[] = [],
    args: string[] = [],
    tag = "hello",
    platform = "wasip1/wasm",
  ) =>
    ctd.ctr([
      "run",
      "--rm",
      "--fifo-dir",
      join(ctd.dir, "fifo"),
      "--runtime",
      SHIM_RUNTIME,
      "--platform",
      platform,
      ...extra,
      `${IMAGE}:${tag}`,
      id,
      ...args,
    ]);

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "nodewasi-ctd-images-"));
    ctd = await startContainerd();
    const imported = await ctd.ctr([
      "image",
      "import",
      "--base-name",
      IMAGE,
      "--all-platforms",
      await imageArchive(tmp),
    ]);
    assert.equal(imported.code, 0, ctd.explain(imported));
  });

  after(async () => {
    await ctd?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("ctr run --rm prints the module's output and exits 0 (overlayfs snapshotter)", async () => {
    const r = await run("hello-overlay");
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "Hello from nodewasi!\n", ctd.explain(r));
    assert.equal(r.stderr, "", ctd.explain(r));
  });

  test("ctr run --rm with arguments (they replace the whole argv, entrypoint included)", async () => {
    const r = await run("hello-args", [], ["/hello.wasm", "one", "two words"]);
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "Hello from nodewasi!\none\ntwo words\n", ctd.explain(r));
  });

  test("ctr run --rm on the native snapshotter (a bind mount read in place)", async () => {
    const r = await run("hello-native", ["--snapshotter", "native"]);
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "Hello from nodewasi!\n", ctd.explain(r));
  });

  test("ctr events shows /tasks/create, start, exit and delete in order, decoded (bare type URLs)", async () => {
    const events = spawn("ctr", ["--address", ctd.address, "events"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    events.stdout.on("data", (c: Buffer) => (out += c.toString()));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await run("evented");
      assert.equal(r.code, 0, ctd.explain(r));
      const seen = () =>
        out
          .split("\n")
          .filter((l) => l.includes(" /tasks/") && l.includes('"container_id":"evented"'))
          .map((l) => /\/tasks\/[a-z-]+/.exec(l)![0]);
      await until("/tasks/delete", async () => (seen().includes("/tasks/delete") ? true : undefined), 10_000);
      assert.deepEqual(seen(), ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"], out);
    } finally {
      events.kill();
    }
  });

  test("ctr run --platform wasi/wasm picks the wasm entry of a multi-platform index", async () => {
    const r = await run("multi", [], [], "multi", "wasi/wasm");
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "Hello from nodewasi!\n", ctd.explain(r));
  });

  test("ctr run --rm --null-io, and --log-uri file:// (the output lands in the file)", async () => {
    const nullIo = await run("null-io", ["--null-io"]);
    assert.equal(nullIo.code, 0, ctd.explain(nullIo));
    assert.equal(nullIo.stdout, "", ctd.explain(nullIo));
    const file = join(ctd.dir, "hello.log");
    const logged = await run("log-uri", ["--log-uri", `file://${file}`]);
    assert.equal(logged.code, 0, ctd.explain(logged));
    assert.equal(readFileSync(file, "utf8"), "Hello from nodewasi!\n");
  });

  test("ctr's exit status is the guest's", async () => {
    const r = await run("exit-7", [], ["/exit-code.wasm", "7"], "exit");
    assert.equal(r.code, 7, ctd.explain(r));
  });

  test("ctr run -d, task ls RUNNING, task kill, STOPPED, task delete; no shim or mount left", async () => {
    const id = "sleeper";
    await runSleeper(id, 60000, ["--fifo-dir", join(ctd.dir, "fifo")]);
    const status = async () => (await taskRow(id))?.[2];
    await until("RUNNING", async () => ((await status()) === "RUNNING" ? true : undefined));
    const kill = await ctd.ctr(["task", "kill", id]);
    assert.equal(kill.code, 0, ctd.explain(kill));
    await until("STOPPED", async () => ((await status()) === "STOPPED" ? true : undefined));
    const del = await ctd.ctr(["task", "delete", id]);
    assert.equal(del.code, 0, ctd.explain(del));
    const rmc = await ctd.ctr(["container", "rm", id]);
    assert.equal(rmc.code, 0, ctd.explain(rmc));
    await until("the shim to exit", async () => (ctd.shims().length === 0 ? true : undefined), 10_000);
    assert.deepEqual(ctd.mounts(), []);
  });

  test("ctr task ps, pause / resume, exec --exec-id, kill -s SIGTERM on a running task", async () => {
    const id = "busy";
    await runSleeper(id, 60000, ["--null-io"]);
    const status = () => taskRow(id);
    const [, pid] = await until("RUNNING", async () => {
      const s = await status();
      return s?.[2] === "RUNNING" ? s : undefined;
    });
    const ps = await ctd.ctr(["task", "ps", id]);
    assert.equal(ps.code, 0, ctd.explain(ps));
    assert.match(ps.stdout, new RegExp(`^${pid}\\s`, "m"));
    assert.equal((await ctd.ctr(["task", "pause", id])).code, 0);
    assert.equal((await status())?.[2], "PAUSED");
    assert.equal((await ctd.ctr(["task", "resume", id])).code, 0);
    assert.equal((await status())?.[2], "RUNNING");
    const exec = await ctd.ctr([
      "task",
      "exec",
      "--exec-id",
      "e1",
      "--fifo-dir",
      join(ctd.dir, "fifo"),
      id,
      "/hello.wasm",
      "from exec",
    ]);
    assert.equal(exec.code, 0, ctd.explain(exec));
    assert.equal(exec.stdout, "Hello from nodewasi!\nfrom exec\n");
    assert.equal((await ctd.ctr(["task", "kill", "-s", "SIGTERM", id])).code, 0);
    await until("STOPPED", async () => ((await status())?.[2] === "STOPPED" ? true : undefined));
    assert.equal((await ctd.ctr(["task", "delete", id])).code, 0);
    assert.equal((await ctd.ctr(["container", "rm", id])).code, 0);
  });

  test("containerd restarted while a task runs: it reconnects to the shim and sees the exit", async (t) => {
    const id = "survivor";
    await runSleeper(id, 3000, ["--null-io"]);
    const status = async () => (await taskRow(id))?.[2];
    await until("RUNNING", async () => ((await status()) === "RUNNING" ? true : undefined));
    const logBefore = ctd.log().length;
    await ctd.restart();
    assert.equal(await status(), "RUNNING", "restored from the bundle's address file");
    await until("STOPPED", async () => ((await status()) === "STOPPED" ? true : undefined), 20_000);
    const del = await ctd.ctr(["task", "delete", id]);
    assert.equal(del.code, 0, ctd.explain(del));
    assert.equal((await ctd.ctr(["container", "rm", id])).code, 0);
    await until("the shim to exit", async () => (ctd.shims().length === 0 ? true : undefined), 10_000);
    // The shim reopened its log FIFO, which the new containerd holds and copies (this line is written before
    // the Shutdown reply; later ones may come after containerd stopped copying).
    assert.match(ctd.log().slice(logBefore), /nodewasi-shim\[\d+\]: shutdown: no task left/);
    recordFigures(t, {
      "containerd restarts": 1,
      "task after the restart": "RUNNING, then STOPPED seen",
      "shims left": 0,
    });
  });

  test("the shim daemon killed with SIGKILL mid-task: containerd cleans up, the task is gone, no runner left", async (t) => {
    const id = "killed-shim";
    await runSleeper(id, 60000, ["--fifo-dir", join(ctd.dir, "fifo")]);
    const [shim] = await until("the shim", async () => (ctd.shims().length === 1 ? ctd.shims() : undefined));
    await until("RUNNING", async () => {
      const ls = await ctd.ctr(["task", "ls"]);
      return ls.stdout.includes("RUNNING") ? true : undefined;
    });
    const runners = processDescendants(shim!);
    assert.ok(runners.length >= 1, "the daemon runs the task in a runner process");
    const alive = () => runners.filter((pid) => isProcessAlive(pid));
    process.kill(shim!, "SIGKILL");
    // containerd sees the connection close, runs `delete` and forgets the task.
    await until("the task to go", async () => {
      const ls = await ctd.ctr(["task", "ls"]);
      return ls.stdout.includes(id) ? undefined : true;
    });
    // Runners SIGKILL themselves when their IPC channel to the daemon breaks (runner-main.ts).
    await until("no runner left", async () => (alive().length === 0 ? true : undefined), 10_000);
    // containerd runs `delete` (which unmounts <bundle>/rootfs) in the background of the disconnect.
    await until("the rootfs unmounted", async () => (ctd.mounts().length === 0 ? true : undefined), 10_000);
    const rmc = await ctd.ctr(["container", "rm", id]);
    assert.equal(rmc.code, 0, ctd.explain(rmc));
    recordFigures(t, {
      "shims killed": 1,
      "runners left": 0,
      "mounts left": 0,
      "task in ctr task ls": "gone",
    });
  });
});
