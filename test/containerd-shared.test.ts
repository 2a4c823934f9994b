/**
 * One shim daemon per containerd namespace (src/containerd/socket-address.ts, daemon-socket.ts), under a real
 * containerd (Debian's 1.6.20 in CI): the containers of a namespace share one daemon, which exits by itself
 * once it has held none for NODEWASI_SHIM_IDLE_TIMEOUT (2 s in tests: test/harness/containerd.ts); a later
 * `start` launches a new one; a daemon killed takes down exactly the tasks it held, which containerd sees exit
 * and can delete. Skipped, with the reason, when containerd cannot run here.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isProcessAlive } from "../src/internal/index.js";
import {
  containerdUnavailable,
  nodewasiImage,
  type PrivateContainerd,
  processDescendants,
} from "./harness/containerd.js";
import { containerdWithModuleImages, stopContainerdAndTemp } from "./harness/containerd-images.js";
import { until } from "./harness/task-kit.js";

const IMAGE = "nodewasi.test/shared";
const skip = containerdUnavailable();

describe("one shim daemon per containerd namespace", { skip: skip ?? false }, () => {
  let ctd: PrivateContainerd;
  let tmp: string;
  /** The bundle containerd made for task `id`. */
  const bundle = (id: string) => join(ctd.dir, "state/io.containerd.runtime.v2.task", ctd.namespace, id);
  const run = (id: string, ...how: string[]) =>
    ctd.ctr([
      "run",
      ...how,
      "--fifo-dir",
      join(ctd.dir, "fifo"),
      ...nodewasiImage(`${IMAGE}:sleep`),
      id,
      "/sleep-ms.wasm",
      how.includes("-d") ? "60000" : "0",
    ]);
  const tasks = async () => (await ctd.ctr(["task", "ls"])).stdout;

  before(async () => {
    ({ ctd, tmp } = await containerdWithModuleImages("shared", IMAGE, {
      sleep: "examples/modules/sleep-ms.wasm",
    }));
  });
  after(() => stopContainerdAndTemp(ctd, tmp));

  test("two tasks share one daemon; killing it ends both, containerd sees them go and deletes them", async () => {
    for (const id of ["one", "two"]) {
      const r = await run(id, "-d");
      assert.equal(r.code, 0, ctd.explain(r));
    }
    await until(
      async () => ((await tasks()).match(/RUNNING/g) ?? []).length === 2,
      20_000,
      "both tasks RUNNING",
    );
    const shims = ctd.shims();
    assert.equal(shims.length, 1, `one daemon for the namespace: ${shims.join(", ")}`);
    const [shim] = shims;
    for (const id of ["one", "two"]) {
      assert.equal(Number(readFileSync(join(bundle(id), "shim.pid"), "utf8")), shim, `${id}'s shim.pid`);
    }
    assert.equal(
      readFileSync(join(bundle("one"), "address"), "utf8"),
      readFileSync(join(bundle("two"), "address"), "utf8"),
    );
    const runners = processDescendants(shim!);
    assert.ok(runners.length >= 2, "a runner process per task");

    process.kill(shim!, "SIGKILL");
    await until(async () => !/\b(one|two)\b/.test(await tasks()), 20_000, "both tasks to go");
    await until(() => runners.every((pid) => !isProcessAlive(pid)), 10_000, "no runner left");
    // containerd runs `delete` (which unmounts <bundle>/rootfs) for each task in the background of the
    // disconnects: two Node boots on a loaded machine.
    await until(() => ctd.mounts().length === 0, 30_000, "the rootfs unmounted").catch((err: Error) => {
      throw new Error(`${err.message}: ${ctd.mounts().join(", ")}\n${ctd.log().slice(-6000)}`);
    });
    for (const id of ["one", "two"]) {
      const rmc = await ctd.ctr(["container", "rm", id]);
      assert.equal(rmc.code, 0, ctd.explain(rmc));
    }
  });

  test("the daemon exits once idle; the next start launches a new one", async () => {
    const first = await run("first", "--rm");
    assert.equal(first.code, 0, ctd.explain(first));
    const pid = Number(/nodewasi-shim\[(\d+)\]: serving [^ ]+\/first /.exec(ctd.log())?.[1]);
    assert.ok(pid > 0, "the first run started a daemon");
    await until(() => ctd.shims().length === 0, 20_000, "the idle daemon to exit");
    assert.deepEqual(
      readdirSync(join(ctd.dir, "s")).filter((n) => !n.endsWith(".claim")),
      [],
      "its socket and records are gone",
    );
    const second = await run("second", "--rm");
    assert.equal(second.code, 0, ctd.explain(second));
    const again = Number(/nodewasi-shim\[(\d+)\]: serving [^ ]+\/second /.exec(ctd.log())?.[1]);
    assert.ok(again > 0 && again !== pid, `a new daemon served the second run (${pid}, then ${again})`);
  });
});
