/**
 * Guests that must be killable wherever they are (issue 10 item 1), as a user meets them: `run -d` of a module
 * whose start function never returns, then `kill`, `ps`, `rm -f` and the daemon's idle exit, with the real
 * bin/nodewasi and a real daemon (bwrap when it works here).
 */
import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { alive, type CliWork, cli, makeWork, shimPid, stopShim, until } from "../../test/harness/index.js";

interface PsEntry {
  id: string;
  pid: number;
  status: string;
  exitStatus?: number;
}

describe("a guest whose start function never returns", { timeout: 180_000 }, () => {
  let work: CliWork;
  before(async () => {
    // Idle after 15 s: the second test waits for the idle exit, but the first runs several commands after its
    // task stopped, and on a loaded machine their gaps passed 5 s and the daemon left with the task's record.
    work = await makeWork(["start-loop"], 15);
  });
  after(async () => {
    await stopShim(work.address);
    await rm(work.dir, { recursive: true, force: true });
  });

  const ps = async (): Promise<PsEntry[]> => JSON.parse((await cli(work, ["ps", "-a", "--json"])).stdout);

  /** `run -d` of start-loop as `id`; resolves once its start function runs, with its runner's pid. */
  async function looping(id: string): Promise<number> {
    const run = await cli(work, ["run", "-d", "--name", id, work.image("start-loop")]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${id}\n`);
    const log = join(work.root, "logs", `${id}.log`);
    await until("the start function to run", async () =>
      (await readFile(log, "utf8").catch(() => "")).includes("in start\n"),
    );
    const task = (await ps()).find((t) => t.id === id);
    assert.equal(task?.status, "running", "Start returned: the task runs its start function");
    assert.ok(task.pid > 0 && alive(task.pid), `runner ${task.pid} runs`);
    return task.pid;
  }

  it("run -d returns; kill KILL ends its runner, and ps says stopped 137 only once it is gone", async () => {
    const pid = await looping("sl");
    const kill = await cli(work, ["kill", "sl", "KILL"]);
    assert.equal(kill.code, 0, kill.stderr);
    await until("the task to stop", async () => (await ps())[0]?.status === "stopped");
    assert.ok(!alive(pid), `runner ${pid} still runs while ps says stopped`);
    assert.equal((await ps())[0]?.exitStatus, 137);
    assert.equal((await cli(work, ["rm", "sl"])).code, 0);
  });

  it("rm -f ends it too, and the daemon then exits once idle", async () => {
    const pid = await looping("sl2");
    const daemon = await shimPid(work.address);
    assert.ok(daemon);
    const removed = await cli(work, ["rm", "-f", "sl2"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, "sl2\n");
    assert.ok(!alive(pid), `runner ${pid} outlived rm -f`);
    await until("the idle daemon to exit", () => !alive(daemon));
  });
});
