/**
 * Issue 10, items 3 and 8: one daemon per state root, and what dead processes leave. With the real
 * bin/nodewasi and real daemons: a second daemon on a root refuses, naming the first; commands whose --root
 * and --address disagree are refused; a daemon killed with SIGKILL leaves task folders, its socket and the
 * FIFOs of runs whose command died, and the next daemon on the root removes them; two runs that start a
 * daemon at the same moment share one; a daemon started while the owner is still stopping waits for it; a
 * daemon that cannot serve, or dies first, is reported with why and where its log is.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ExitCode } from "../src/cli/index.js";
import { readRootOwner } from "../src/internal/index.js";
import { acquireLock } from "../src/oci/index.js";
import { claimRoot } from "../src/shim/index.js";
import {
  alive,
  BIN,
  type CliWork,
  cli,
  finished,
  makeWork,
  shimPid,
  spawnCli,
  stopShim,
  until,
} from "./harness/index.js";
import { unmountUnder } from "./harness/mounts.js";

const exists = (path: string) => existsSync(path);

/** The pid of a `nodewasi shim serve` for `address` (from /proc/N/cmdline), if one runs. */
function daemonServing(address: string): number | undefined {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // gone meanwhile
    }
    const at = argv.indexOf("--address");
    if (at >= 0 && argv[at + 1] === address && argv.includes("serve")) return Number(name);
  }
  return undefined;
}

describe("one daemon per state root", () => {
  let work: CliWork;
  let other: string;
  before(async () => {
    work = await makeWork(["sleep-ms", "echo-args"], 30);
    other = join(work.dir, "b", "shim.sock");
  });
  after(async () => {
    await stopShim(work.address);
    await stopShim(other);
    unmountUnder(work.dir); // what a daemon killed with SIGKILL left mounted (tasks' overlays)
    await rm(work.dir, { recursive: true, force: true });
  });

  it("a second daemon on a root refuses, naming the first's pid and address; the first's task keeps its files", async () => {
    const first = await cli(work, ["run", "-d", "--name", "same", work.image("sleep-ms"), "60000"]);
    assert.equal(first.code, 0, first.stderr);
    const pid = await shimPid(work.address);
    assert.ok(pid);
    const owned = new RegExp(
      `the state root ${work.root} is owned by the nodewasi daemon with pid ${pid} serving ${work.address}; a root has one daemon at a time\\nhint: use that daemon: pass \`--address ${work.address}\``,
    );

    const second = await cli(work, ["run", "-d", "--name", "same", work.image("echo-args"), "B"], {
      address: other,
    });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, owned);
    assert.equal(second.stdout, "");
    assert.ok(!exists(other), "no second daemon listens");

    const serve = await finished(
      spawn(process.execPath, [BIN, "--root", work.root, "--address", other, "shim", "serve"], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    assert.equal(serve.code, 1, serve.stderr);
    assert.match(serve.stderr, owned);

    const removed = await cli(work, ["rm", "same"], { address: other });
    assert.equal(removed.code, 1, removed.stderr);
    assert.match(removed.stderr, owned);

    assert.deepEqual(await readdir(join(work.root, "tasks", "same", "rootfs")), ["sleep-ms.wasm"]);
    assert.match(await readFile(join(work.root, "logs", "same.log"), "utf8"), /sleeping 60000 ms/);
    const [task] = JSON.parse((await cli(work, ["ps", "--json"])).stdout);
    assert.equal(task.status, "running");
    assert.equal((await cli(work, ["rm", "-f", "same"])).code, 0);
  });

  it("a command whose --root is not the root of the daemon on its --address is refused, naming both", async () => {
    const root2 = join(work.dir, "root2");
    const r = await cli(work, ["--root", root2, "run", "-d", "--name", "mixed", work.image("echo-args")]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `the nodewasi daemon on ${work.address} serves another state root than ${root2}\\nhint: pass the --root`,
      ),
    );
    assert.ok(!exists(join(root2, "logs")), "no log of a task of another root");
    for (const args of [["ps"], ["rm", "mixed"], ["logs", "mixed"]]) {
      const refused = await cli(work, ["--root", root2, ...args]);
      assert.equal(refused.code, 1, `${args.join(" ")}: ${refused.stderr}`);
    }
  });
});

describe("what a daemon killed with SIGKILL leaves", () => {
  let work: CliWork;
  before(async () => {
    work = await makeWork(["sleep-ms", "echo-args"], 30);
  });
  after(async () => {
    await stopShim(work.address);
    unmountUnder(work.dir); // what a daemon killed with SIGKILL left mounted (tasks' overlays)
    await rm(work.dir, { recursive: true, force: true });
  });

  it("the next daemon takes the root and removes the task folders, the stale socket and the FIFOs of dead runs", async () => {
    const run = await cli(work, ["run", "-d", "--name", "left", work.image("sleep-ms"), "60000"]);
    assert.equal(run.code, 0, run.stderr);
    // An attached run whose command is killed: its FIFOs are all that is left of it.
    const io = join(work.dir, "run", "io");
    const attached = spawnCli(work, ["run", "--name", "orphan", work.image("sleep-ms"), "60000"]);
    const attachedDone = finished(attached);
    await until("the attached run's task", async () =>
      (await cli(work, ["ps", "-q"])).stdout.includes("orphan"),
    );
    const runDirs = await readdir(io);
    assert.equal(runDirs.length, 1, runDirs.join(" "));
    attached.kill("SIGKILL");
    await attachedDone;

    const pid = (await shimPid(work.address))!;
    process.kill(pid, "SIGKILL");
    await until("the daemon to die", () => !alive(pid));
    assert.ok(exists(join(work.root, "tasks", "left")), "the dead daemon's task folder");
    assert.ok(exists(join(work.root, "owner.sock")), "its owner socket file");
    assert.ok(exists(work.address), "its socket file");
    assert.equal(await readRootOwner(work.root), undefined, "an owner that died owns nothing");

    // The same name again, through the daemon this run starts: its task folder is its own.
    const again = await cli(work, ["run", "-d", "--name", "left", work.image("echo-args"), "again"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await readRootOwner(work.root))?.pid, await shimPid(work.address));
    assert.deepEqual(await readdir(join(work.root, "tasks", "left", "rootfs")), ["echo-args.wasm"]);
    assert.ok(!exists(join(work.root, "tasks", "orphan")));
    assert.deepEqual(
      (await readdir(io)).filter((d) => runDirs.includes(d)),
      [],
      "the killed run's FIFOs are gone",
    );
    const shimLog = await readFile(join(work.dir, "run", "shim.log"), "utf8");
    assert.match(
      shimLog,
      /removed 2 task folder\(s\) left by a daemon that died: (left, orphan|orphan, left)/,
    );
    await until("the new task to stop", async () => (await cli(work, ["ps", "-q"])).stdout === "");
    const ps = JSON.parse((await cli(work, ["ps", "-a", "--json"])).stdout) as { id: string }[];
    assert.deepEqual(
      ps.map((t) => t.id),
      ["left"],
    );
    assert.equal((await cli(work, ["rm", "left"])).code, 0);
  });
});

describe("starting the daemon", () => {
  let work: CliWork;
  before(async () => {
    work = await makeWork(["echo-args"], 30);
  });
  after(async () => {
    await stopShim(work.address);
    unmountUnder(work.dir); // what a daemon killed with SIGKILL left mounted (tasks' overlays)
    await rm(work.dir, { recursive: true, force: true });
  });

  it("four runs that each start a daemon at the same moment all run, served by one daemon", async () => {
    const runs = await Promise.all(
      [1, 2, 3, 4].map((n) => cli(work, ["run", "--rm", work.image("echo-args"), `run${n}`])),
    );
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`run${i + 1}`));
    }
    const pid = await shimPid(work.address);
    assert.equal((await readRootOwner(work.root))?.pid, pid);
    await stopShim(work.address);
  });

  it("a daemon that cannot serve says why, and the run names its log", async () => {
    const root = join(work.dir, "root-unservable");
    const address = join(work.dir, "unservable", "shim.sock");
    await mkdir(dirname(address), { recursive: true });
    await writeFile(address, "not a socket");
    const r = await cli(work, ["--root", root, "run", "--rm", work.image("echo-args")], { address });
    assert.equal(r.code, ExitCode.Unavailable, r.stderr);
    const log = join(dirname(address), "shim.log");
    const why = `${address} exists and is not a socket; remove it or pick another path`;
    assert.ok(
      r.stderr.includes(`the shim daemon started for ${address} could not start: ${why}; see ${log}`),
      r.stderr,
    );
    assert.match(r.stderr, /hint: read .*shim\.log, or run `nodewasi --address .* --debug shim serve`/);
    assert.ok((await readFile(log, "utf8")).includes(why), "the daemon's own report is in its log");
    assert.equal(await readRootOwner(root), undefined, "the daemon gave the root back");
  });

  it("a daemon that dies before it serves: the run says how it ended, and names its log", async () => {
    const root = join(work.dir, "root-killed");
    const address = join(work.dir, "killed", "shim.sock");
    await mkdir(root, { recursive: true });
    // The daemon waits for the claim lock (up to 10 s) before it can serve: the moment it is killed in.
    const lock = await acquireLock(join(root, "owner.lock"));
    try {
      const run = finished(
        spawnCli(work, ["--root", root, "run", "--rm", work.image("echo-args")], { address }),
      );
      await until("the daemon to start", () => daemonServing(address) !== undefined);
      process.kill(daemonServing(address)!, "SIGKILL");
      const r = await run;
      assert.equal(r.code, ExitCode.Unavailable, r.stderr);
      const log = join(dirname(address), "shim.log");
      assert.ok(
        r.stderr.includes(`the shim daemon started for ${address} ended (SIGKILL); see ${log}`),
        r.stderr,
      );
    } finally {
      await lock?.release();
    }
  });

  it("a daemon started while the root's owner is still stopping waits for it, then serves", async () => {
    const old = await claimRoot(work.root, { address: work.address });
    old.markStopping();
    const run = finished(spawnCli(work, ["run", "--rm", work.image("echo-args"), "after"]));
    await new Promise((r) => setTimeout(r, 1500));
    await old.release();
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /after/);
  });
});
