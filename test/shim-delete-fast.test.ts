/**
 * bin/containerd-shim-nodewasi-v1 answers `... -bundle DIR delete` itself (sh, no Node boot), as
 * src/containerd/shim-delete.ts would, unmounting a rootfs left mounted; a rootfs with something in it that is
 * not a mount point, and everything else, reaches Node. Whether
 * Node ran is seen through NODE_OPTIONS: a preloaded module that leaves a mark.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { DeleteResponseSchema } from "../src/gen/index.js";
import { REPO_ROOT } from "./harness/shim.js";

const BIN = join(REPO_ROOT, "bin", "containerd-shim-nodewasi-v1");

describe("containerd-shim-nodewasi-v1 delete without Node", () => {
  let dir: string;
  let bundle: string;
  let mark: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-fastdel-"));
    bundle = join(dir, "bundle");
    mark = join(dir, "node-ran");
    await mkdir(join(bundle, "rootfs"), { recursive: true });
    await writeFile(
      join(dir, "mark.mjs"),
      `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(mark)}, "");\n`,
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const del = async (args: string[]) => {
    await rm(mark, { force: true });
    const r = await new Promise<{ code: number; stdout: Buffer; stderr: string }>((done) => {
      execFile(
        BIN,
        args,
        {
          cwd: bundle,
          encoding: "buffer",
          env: { ...process.env, NODE_OPTIONS: `--import=${join(dir, "mark.mjs")}` },
        },
        (err, stdout, stderr) => done({ code: err ? 1 : 0, stdout, stderr: stderr.toString() }),
      );
    });
    return { ...r, nodeRan: existsSync(mark) };
  };
  const flags = () => [
    "-namespace",
    "ns",
    "-address",
    "/run/c.sock",
    "-publish-binary",
    "/bin/true",
    "-id",
    "x",
    "-bundle",
    bundle,
  ];

  test("answers the DeleteResponse Node would (pid 0, 137, now) without Node, with or without -debug", async () => {
    for (const extra of [[], ["-debug"]]) {
      const before = Date.now();
      const r = await del([...flags(), ...extra, "delete"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.equal(r.nodeRan, false);
      const res = fromBinary(DeleteResponseSchema, r.stdout);
      assert.equal(res.pid, 0);
      assert.equal(res.exitStatus, 137);
      const at = Number(res.exitedAt!.seconds) * 1000 + res.exitedAt!.nanos / 1e6;
      assert.ok(at >= before - 1 && at <= Date.now() + 1, `${at} not in [${before}, ${Date.now()}]`);
    }
  });

  test("kills what is left in the process group of a dead daemon, and leaves a live daemon's alone", async () => {
    // A group leader that exits at once, leaving a sleep in its group: a daemon that died, and its runner.
    const [leader, orphan] = execFileSync("setsid", ["sh", "-c", "sleep 60 & echo $$ $!"], {
      encoding: "utf8",
    })
      .trim()
      .split(" ")
      .map(Number) as [number, number];
    await writeFile(join(bundle, "shim.pid"), String(leader));
    const r = await del([...flags(), "delete"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.nodeRan, false);
    const deadline = Date.now() + 5000;
    while (alive(orphan) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    assert.equal(alive(orphan), false, `orphan ${orphan} still runs`);

    // This test process as the daemon: alive, so nothing is killed.
    await writeFile(join(bundle, "shim.pid"), String(process.pid));
    assert.equal((await del([...flags(), "delete"])).code, 0);
    await rm(join(bundle, "shim.pid"));
  });

  test("unmounts a rootfs a dead daemon left mounted, without Node (containerd gives it 5 s)", {
    skip: process.getuid?.() !== 0 ? "mounting needs root" : false,
  }, async () => {
    const rootfs = join(bundle, "rootfs");
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", rootfs]);
    try {
      await writeFile(join(rootfs, "hello.wasm"), "");
      const r = await del([...flags(), "delete"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.equal(r.nodeRan, false);
      assert.equal(fromBinary(DeleteResponseSchema, r.stdout).exitStatus, 137);
      assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(` ${rootfs} `), "unmounted");
      assert.ok(!existsSync(join(rootfs, "hello.wasm")));
    } finally {
      execFileSync("sh", ["-c", `umount "${rootfs}" 2>/dev/null || true`]);
    }
  });

  test("leaves to Node a rootfs with something in it, unknown flags and other actions", async () => {
    await writeFile(join(bundle, "rootfs", "hello.wasm"), "");
    try {
      const r = await del([...flags(), "delete"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.nodeRan, true);
      assert.equal(fromBinary(DeleteResponseSchema, r.stdout).exitStatus, 137);
    } finally {
      await rm(join(bundle, "rootfs", "hello.wasm"));
    }
    const bogus = await del(["-bogus", "delete"]);
    assert.equal(bogus.nodeRan, true);
    assert.match(bogus.stderr, /bogus/);
    const version = await del(["-v"]);
    assert.equal(version.nodeRan, true);
    assert.match(version.stdout.toString(), /Version:/);
  });
});

/** Whether `pid` runs (a zombie, killed but not yet reaped by init, does not). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
