/**
 * Detached tasks (`run -d`, `ps`, `logs`, `kill`, `rm`) and the shim daemon's lifecycle (`shim serve`, the
 * daemon `run` starts, idle exit, SIGTERM, Shutdown), with the real bin/nodewasi and real daemons.
 */
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  alive,
  type CliWork,
  cli,
  finished,
  HELLO,
  makeWork,
  removeWork,
  serve,
  shimPid,
  spawnCli,
  until,
} from "../../test/harness/index.js";
import { Task } from "../gen/index.js";
import { closeClient, createClient } from "../rpc/index.js";

describe("detached tasks: run -d, ps, logs, kill, rm", () => {
  let work: CliWork;
  before(async () => {
    work = await makeWork(["busy-loop", "echo-args"]);
  });
  after(() => removeWork(work));

  it("a detached task runs, is listed, logs, is killed, then removed", async () => {
    const run = await cli(work, ["run", "-d", "--name", "spin", work.image("busy-loop")]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "spin\n");
    const log = join(work.root, "logs", "spin.log");
    await until("the log to show the guest's output", async () =>
      (await readFile(log, "utf8").catch(() => "")).includes("spinning"),
    );

    const ps = await cli(work, ["ps"]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^ID\s+IMAGE\s+PID\s+STATUS\s+EXIT\s+CREATED\s+COMMAND\n/);
    assert.match(
      ps.stdout,
      /\nspin\s+oci:\S+:busy-loop\s+\d+\s+running\s+-\s+\d+s ago\s+\/busy-loop\.wasm\n/,
    );
    assert.equal((await cli(work, ["ps", "-q"])).stdout, "spin\n");

    assert.equal((await cli(work, ["logs", "spin"])).stdout, "spinning\n");
    const removeLive = await cli(work, ["rm", "spin"]);
    assert.equal(removeLive.code, 1, "a running task is not removed without -f");
    assert.match(removeLive.stderr, /rm -f spin/);

    const kill = await cli(work, ["kill", "spin", "KILL"]);
    assert.equal(kill.code, 0, kill.stderr);
    await until("the task to stop", async () => (await cli(work, ["ps", "-q"])).stdout === "");
    const [task] = JSON.parse((await cli(work, ["ps", "-a", "--json"])).stdout);
    assert.equal(task.id, "spin");
    assert.equal(task.status, "stopped");
    assert.equal(task.exitStatus, 137, "SIGKILL: 128 + 9");

    const removed = await cli(work, ["rm", "spin"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, "spin\n");
    assert.equal((await cli(work, ["ps", "-aq"])).stdout, "");
    assert.ok(!existsSync(log), "rm removes the task's log");
  });

  it("logs -f follows until the task stops; rm -f kills and removes", async () => {
    const run = await cli(work, ["run", "-d", "--name", "follow", work.image("busy-loop")]);
    assert.equal(run.code, 0, run.stderr);
    const follower = finished(spawnCli(work, ["logs", "-f", "follow"]));
    await until("the log", () => existsSync(join(work.root, "logs", "follow.log")));
    await new Promise((r) => setTimeout(r, 300));
    const kill = await cli(work, ["kill", "follow"]);
    assert.equal(kill.code, 0, kill.stderr);
    const followed = await follower;
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(followed.stdout, "spinning\n");
    const [task] = JSON.parse((await cli(work, ["ps", "-a", "--json"])).stdout);
    assert.equal(task.exitStatus, 143, "SIGTERM by default: 128 + 15");

    await cli(work, ["run", "-d", "--name", "forced", work.image("busy-loop")]);
    const forced = await cli(work, ["rm", "-f", "forced", "follow"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout, "forced\nfollow\n");
  });

  it("says why there is nothing to show: attached runs have no log, unknown ids are not found", async () => {
    assert.equal((await cli(work, ["run", "--name", "attached", work.image("echo-args")])).code, 0);
    const logs = await cli(work, ["logs", "attached"]);
    assert.equal(logs.code, 1);
    assert.match(logs.stderr, /task attached has no log: it was run attached/);
    assert.equal((await cli(work, ["rm", "attached"])).code, 0);
    assert.equal((await cli(work, ["logs", "nope"])).code, 3);
    assert.equal((await cli(work, ["kill", "nope"])).code, 3);
    assert.equal((await cli(work, ["kill", "nope", "SIGNOPE"])).code, 2);
  });

  it("rm, logs and kill refuse ids that are not task ids: `rm ../x` removed <root>/x.log", async () => {
    await mkdir(join(work.root, "logs"), { recursive: true });
    const victim = join(work.dir, "victim.log");
    await writeFile(victim, "not a task's\n");
    for (const args of [
      ["rm", "../../victim"],
      ["logs", "../../victim"],
      ["kill", "../../victim"],
    ]) {
      const r = await cli(work, args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /task id "\.\.\/\.\.\/victim" is not a valid id/);
      assert.equal(r.stdout, "");
    }
    assert.equal(await readFile(victim, "utf8"), "not a task's\n");
  });
});

describe("the shim daemon", () => {
  let work: CliWork;
  before(async () => {
    // Short, to see it exit; not 1 s: a daemon that `run` starts must outlive the gaps between that run's
    // calls (Pull, Create, Start), which a busy machine stretched past a second.
    work = await makeWork(["busy-loop"], 5);
  });
  after(() => removeWork(work));

  it("is started by run when none listens, and exits once idle", async () => {
    assert.equal((await cli(work, ["ps"])).stdout.split("\n").length, 2, "ps starts no daemon");
    assert.ok(!existsSync(work.address));
    const r = await cli(work, ["run", "--rm", HELLO]);
    assert.equal(r.code, 0, r.stderr);
    const pid = await shimPid(work.address);
    assert.ok(pid && alive(pid), "the daemon outlives the run");
    assert.equal(statSync(work.address).mode & 0o777, 0o600);
    assert.equal(statSync(join(work.dir, "run")).mode & 0o777, 0o700);
    await until("the idle daemon to exit", () => !alive(pid));
    assert.ok(!existsSync(work.address), "its socket is gone");
  });

  it("a detached task's log outlives the daemon, until rm", async () => {
    const run = await cli(work, ["run", "-d", "--name", "gone", HELLO]);
    assert.equal(run.code, 0, run.stderr);
    const pid = await shimPid(work.address);
    assert.ok(pid);
    await until("the idle daemon to exit", () => !alive(pid));
    assert.equal((await cli(work, ["ps", "-a"])).stdout.split("\n").length, 2, "no daemon, no tasks");
    const logs = await cli(work, ["logs", "gone"]);
    assert.equal(logs.stdout, "Hello from nodewasi!\n", logs.stderr);
    const removed = await cli(work, ["rm", "gone"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await cli(work, ["logs", "gone"])).code, 3);
    assert.equal((await cli(work, ["rm", "gone"])).code, 3);
  });

  it("shim serve: SIGTERM kills its guests, removes its socket and exits 0", async () => {
    const address = join(work.dir, "serve", "shim.sock");
    const child = serve(work, address);
    const done = finished(child);
    try {
      await until("the socket", () => existsSync(address));
      const run = await cli(work, ["run", "-d", "--name", "victim", work.image("busy-loop")], { address });
      assert.equal(run.code, 0, run.stderr);
      const [task] = JSON.parse((await cli(work, ["ps", "--json"], { address })).stdout);
      assert.equal(task.status, "running");
      child.kill("SIGTERM");
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "", "shim serve prints nothing on stdout");
      assert.ok(!existsSync(address));
      // Gone with the daemon: already when it has exited, so the bound is only for a broken case.
      await until("the guest's runner to be gone", () => !alive(task.pid));
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("Shutdown ends it once no task is left", async () => {
    const address = join(work.dir, "shutdown", "shim.sock");
    const child = serve(work, address);
    const done = finished(child);
    const task = createClient(Task, address, { timeoutMs: 60_000 });
    try {
      await task.connect({ id: "" }, { waitForReady: true });
      await task.shutdown({});
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!existsSync(address));
    } finally {
      closeClient(task);
      child.kill("SIGKILL");
    }
  });
});
