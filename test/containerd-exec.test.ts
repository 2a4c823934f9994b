/**
 * Execs under a real containerd (Debian's 1.6.20) end with their container's init process, as runc's do (its
 * shim kills every process of the container when the init exits): `ctr task delete` then succeeds without
 * a kill, and no exec runner is left behind.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { containerdUnavailable, nodewasiImage, type PrivateContainerd } from "./harness/containerd.js";
import { containerdWithModuleImages, stopContainerdAndTemp } from "./harness/containerd-images.js";
import { until } from "./harness/task-kit.js";

const IMAGE = "nodewasi.test/exec";

/** Whether `pid` exists and is not a zombie. */
function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("ctr task exec: execs end with their init", { skip: containerdUnavailable() ?? false }, () => {
  let ctd: PrivateContainerd;
  let tmp: string;

  before(async () => {
    ({ ctd, tmp } = await containerdWithModuleImages("exec", IMAGE, {
      sleep: "examples/modules/sleep-ms.wasm",
    }));
  });
  after(() => stopContainerdAndTemp(ctd, tmp));

  test("an init that exits takes its running exec with it; ctr task delete needs no kill", async () => {
    const id = "short";
    const run = await ctd.ctr([
      "run",
      "-d",
      "--null-io",
      ...nodewasiImage(`${IMAGE}:sleep`),
      id,
      "/sleep-ms.wasm",
      "3000",
    ]);
    assert.equal(run.code, 0, ctd.explain(run));
    const exec = await ctd.ctr(["task", "exec", "-d", "--exec-id", "long", id, "/sleep-ms.wasm", "600000"]);
    assert.equal(exec.code, 0, ctd.explain(exec));
    const pids = async () =>
      (await ctd.ctr(["task", "ps", id])).stdout
        .split("\n")
        .slice(1)
        .map((l) => Number(l.split(/\s+/)[0]))
        .filter((n) => n > 0);
    let both: number[] = [];
    await until(
      async () => {
        both = await pids();
        return both.length === 2;
      },
      20_000,
      "the init and the exec in ctr task ps",
    );
    await until(
      async () => /^short\s+\d+\s+STOPPED/m.test((await ctd.ctr(["task", "ls"])).stdout),
      30_000,
      "the init to exit after 3 s",
    );
    await until(() => both.every((pid) => !isLive(pid)), 20_000, "the exec's runner to end too");
    const del = await ctd.ctr(["task", "delete", id]);
    assert.equal(del.code, 0, ctd.explain(del));
    assert.equal((await ctd.ctr(["container", "rm", id])).code, 0);
    await until(() => ctd.shims().length === 0, 20_000, "the shim to exit");
  });
});
