import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeRunner } from "../../test/harness/fake-runner.js";
import { Status } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import type { ProcessState } from "./state.js";
import { TaskProcess } from "./task-process.js";

const STATES: ProcessState[] = ["created", "running", "paused", "stopped", "deleted"];
const nullStdio = { stdin: { kind: "null" }, stdout: { kind: "null" }, stderr: { kind: "null" } } as const;

/** A process of its own (and the fake guest it ran, if any) brought to `state` by the public transitions. */
async function processIn(state: ProcessState) {
  const runner = new FakeRunner();
  const exits: TaskProcess[] = [];
  const onExit = (p: TaskProcess) => exits.push(p);
  const p = new TaskProcess({
    containerId: "c",
    execId: "",
    spec: { module: "/m.wasm", args: [], env: {}, preopens: {}, ...nullStdio },
    stdio: { stdin: "", stdout: "", stderr: "", terminal: false },
  });
  if (state !== "created" && state !== "deleted") await p.start(runner, onExit);
  if (state === "paused") p.pause();
  if (state === "stopped") {
    runner.last().finish(3);
    await p.wait();
  }
  if (state === "deleted") p.delete();
  assert.equal(p.state, state);
  return { p, runner, exits, onExit };
}

/** What each call does from each state: the state it leads to, or the error it throws. */
type Outcome = ProcessState | "FailedPrecondition" | "NotFound";
const EXPECTED: Record<"start" | "pause" | "resume" | "kill" | "delete", Record<ProcessState, Outcome>> = {
  start: {
    created: "running",
    running: "FailedPrecondition",
    paused: "FailedPrecondition",
    stopped: "FailedPrecondition",
    deleted: "FailedPrecondition",
  },
  pause: {
    created: "FailedPrecondition",
    running: "paused",
    paused: "FailedPrecondition",
    stopped: "FailedPrecondition",
    deleted: "FailedPrecondition",
  },
  // Not from created: runc's shim refuses to resume a process that never started (it reported RUNNING with no
  // guest and pid 0 before).
  resume: {
    created: "FailedPrecondition",
    running: "FailedPrecondition",
    paused: "running",
    stopped: "FailedPrecondition",
    deleted: "FailedPrecondition",
  },
  // A Kill stops the process once its guest is gone; a finished one answers NotFound, as runc's shim does.
  kill: {
    created: "stopped",
    running: "stopped",
    paused: "stopped",
    stopped: "NotFound",
    deleted: "NotFound",
  },
  delete: {
    created: "deleted",
    running: "FailedPrecondition",
    paused: "FailedPrecondition",
    stopped: "deleted",
    deleted: "FailedPrecondition",
  },
};

describe("TaskProcess state machine", () => {
  for (const [call, row] of Object.entries(EXPECTED)) {
    for (const from of STATES) {
      const outcome = row[from];
      it(`${call} from ${from}: ${outcome}`, async () => {
        const { p, runner, onExit } = await processIn(from);
        const act = async () => {
          if (call === "start") await p.start(runner, onExit);
          else if (call === "pause") p.pause();
          else if (call === "resume") p.resume();
          else if (call === "kill") p.kill(9, onExit);
          else p.delete();
        };
        if (outcome === "FailedPrecondition" || outcome === "NotFound") {
          await assert.rejects(act(), (e: unknown) => {
            assert.ok(e instanceof ShimError);
            assert.equal(e.code, Code[outcome]);
            // A refused transition names the process and both states.
            if (outcome === "FailedPrecondition") {
              assert.match(e.message, new RegExp(`task c: invalid state transition: ${from} => \\w+`));
            }
            return true;
          });
          assert.equal(p.state, from, "a refused call changes nothing");
          return;
        }
        await act();
        if (outcome === "stopped") await p.wait();
        assert.equal(p.state, outcome);
      });
    }
  }

  it("pauses and resumes the guest itself, and a signal other than SIGKILL continues a paused one first", async () => {
    const { p, runner, onExit } = await processIn("running");
    p.pause();
    assert.equal(runner.last().paused, true);
    p.resume();
    assert.equal(runner.last().paused, false);
    p.pause();
    p.kill(15, onExit);
    assert.equal(runner.last().paused, false);
    assert.equal((await p.wait()).code, 143);
  });

  it("answers the predicates from its state", async () => {
    const expected: Record<ProcessState, [Status, boolean, boolean]> = {
      // state: [status, isLive, canSignal]
      created: [Status.CREATED, false, true],
      running: [Status.RUNNING, true, true],
      paused: [Status.PAUSED, true, true],
      stopped: [Status.STOPPED, false, false],
      deleted: [Status.STOPPED, false, false],
    };
    for (const state of STATES) {
      const { p } = await processIn(state);
      assert.deepEqual([p.status, p.isLive, p.canSignal], expected[state], state);
      for (const t of ["start", "pause", "resume", "delete"] as const) {
        const allowed = EXPECTED[t][state] !== "FailedPrecondition";
        assert.equal(p.can(t), allowed, `${t} from ${state}`);
      }
      assert.equal(p.can("stop"), p.canSignal, state);
    }
  });

  it("keeps the pid and the exit status once stopped, and calls onExit once", async () => {
    const { p, runner, exits } = await processIn("running");
    const pid = runner.last().pid;
    assert.equal(p.pid, pid);
    assert.equal(p.exit?.code, undefined, "no exit status before the exit");
    runner.last().finish(7);
    assert.equal((await p.wait()).code, 7);
    assert.equal(p.pid, pid);
    assert.equal(p.exit?.code, 7);
    assert.deepEqual(exits, [p]);
  });

  it("stops a created process killed before Start with 128 + signal, and never starts it", async () => {
    const { p, runner, exits, onExit } = await processIn("created");
    p.kill(15, onExit);
    assert.equal(p.state, "stopped");
    assert.equal((await p.wait()).code, 143);
    assert.equal(p.pid, 0);
    assert.deepEqual(exits, [p]);
    assert.equal(runner.guests.length, 0);
  });

  it("reports an OOM once", async () => {
    const { p } = await processIn("running");
    assert.equal(p.reportOom(), true);
    assert.equal(p.reportOom(), false);
  });
});
