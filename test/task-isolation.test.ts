/**
 * Isolation through a shim process (DESIGN decision 8): a bundle task (containerd's path) whose rootfs holds
 * `link -> /etc`. node:wasi alone follows that symlink on the host; under bwrap the guest sees only its rootfs,
 * so it cannot read the host's /etc/hostname through the link. The bundle is built by hand because the
 * image unpacker refuses absolute symlinks.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Task } from "../src/gen/index.js";
import type { Client } from "../src/rpc/index.js";
import { recordFigures } from "./harness/reliability.js";
import { type ShimHandle, startShim } from "./harness/shim.js";
import { bwrapWorks, MODULES_DIR, tempDir } from "./harness/task-kit.js";

const BWRAP = bwrapWorks();

describe("isolation of a bundle task, against a shim process", {
  skip: !BWRAP && "bwrap cannot run here",
}, () => {
  let shim: ShimHandle;
  let task: Client<typeof Task>;
  let dir: string;
  let n = 0;

  before(async () => {
    dir = await tempDir();
    shim = await startShim({ isolation: "bwrap" });
    task = shim.client(Task, { timeoutMs: 30_000 });
  });
  after(async () => {
    await shim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A bundle whose rootfs holds read-file.wasm, data.txt and link -> /etc; runs read-file `path`. */
  async function runBundle(path: string) {
    const id = `iso-${++n}`;
    const bundle = join(dir, id);
    const rootfs = join(bundle, "rootfs");
    await mkdir(rootfs, { recursive: true });
    await copyFile(join(MODULES_DIR, "read-file.wasm"), join(rootfs, "read-file.wasm"));
    await writeFile(join(rootfs, "data.txt"), "inside the rootfs\n");
    await symlink("/etc", join(rootfs, "link"));
    await writeFile(
      join(bundle, "config.json"),
      JSON.stringify({
        ociVersion: "1.0.2",
        process: { args: ["/read-file.wasm", path], env: [], cwd: "/" },
        root: { path: "rootfs" },
      }),
    );
    const out = join(bundle, "out");
    const err = join(bundle, "err");
    await task.create({ id, bundle, stdout: `file://${out}`, stderr: `file://${err}` });
    const waiting = task.wait({ id });
    await task.start({ id });
    const { exitStatus } = await waiting;
    await task.delete({ id });
    const read = (f: string) => readFile(f, "utf8").catch(() => "");
    return { exitStatus, stdout: await read(out), stderr: await read(err) };
  }

  it("the guest reads its own rootfs (so a refusal below is the sandbox, not a broken task)", async () => {
    const run = await runBundle("/data.txt");
    assert.equal(run.exitStatus, 0, run.stderr);
    assert.equal(run.stdout, "inside the rootfs\n");
  });

  it("the guest cannot read the host's /etc/hostname through rootfs/link -> /etc", async (t) => {
    const hostname = await readFile("/etc/hostname", "utf8");
    const run = await runBundle("/link/hostname");
    assert.notEqual(run.stdout, hostname, "the guest printed the host's /etc/hostname");
    assert.equal(run.stdout, "");
    assert.equal(run.exitStatus, 1, `stdout: ${run.stdout} stderr: ${run.stderr}`);
    assert.match(run.stderr, /read-file: \/link\/hostname: /);
    recordFigures(t, { isolation: "bwrap", "bundle link": "link -> /etc", "host bytes read": 0 });
  });
});
