/**
 * `ctr task metrics` under a real containerd (Debian's 1.6.20): the shim's Task.Stats answer is decoded by
 * containerd's own Go types, as cgroups v1 or v2 metrics by the host's cgroup mode (src/shim/cgroup-metrics.ts),
 * and printed with plausible figures: a running guest's runner uses tens of MB and some CPU, a spinning one
 * more CPU over time, an exec adds its runner to the task's figures, a paused task is measured too.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hostCgroupMode } from "../src/shim/index.js";
import { containerdUnavailable, type PrivateContainerd, SHIM_RUNTIME } from "./harness/containerd.js";
import { containerdWithModuleImages, stopContainerdAndTemp } from "./harness/containerd-images.js";
import { recordFigures } from "./harness/reliability.js";
import { until } from "./harness/task-kit.js";

const IMAGE = "nodewasi.test/metrics";

/** The figures of `ctr task metrics --format json`, for either cgroups encoding. */
interface Figures {
  memory: number;
  cpuNanos: number;
  pids: number;
  limit: number;
}

function figures(json: string): Figures {
  const m = JSON.parse(json);
  if (hostCgroupMode() === "v2") {
    return {
      memory: m.memory.usage,
      cpuNanos: m.cpu.usage_usec * 1000,
      pids: m.pids.current,
      limit: m.memory.usage_limit,
    };
  }
  return {
    memory: m.memory.usage.usage,
    cpuNanos: m.cpu.usage.total,
    pids: m.pids.current,
    limit: m.memory.usage.limit,
  };
}

describe("ctr task metrics of nodewasi tasks", { skip: containerdUnavailable() ?? false }, () => {
  let ctd: PrivateContainerd;
  let tmp: string;

  before(async () => {
    ({ ctd, tmp } = await containerdWithModuleImages("metrics", IMAGE, {
      spin: "examples/modules/busy-loop.wasm",
      sleep: "examples/modules/sleep-ms.wasm",
    }));
  });
  after(() => stopContainerdAndTemp(ctd, tmp));

  const runDetached = async (id: string, tag: string, args: string[]) => {
    const r = await ctd.ctr([
      "run",
      "-d",
      "--null-io",
      "--runtime",
      SHIM_RUNTIME,
      "--platform",
      "wasip1/wasm",
      `${IMAGE}:${tag}`,
      id,
      ...args,
    ]);
    assert.equal(r.code, 0, ctd.explain(r));
    await until(
      async () =>
        (await ctd.ctr(["task", "ls"])).stdout.match(new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, "m")) !== null,
      20_000,
      `${id} RUNNING`,
    );
  };
  const metrics = async (id: string): Promise<Figures> => {
    const r = await ctd.ctr(["task", "metrics", "--format", "json", id]);
    assert.equal(r.code, 0, ctd.explain(r));
    return figures(r.stdout);
  };
  const remove = async (id: string) => {
    await ctd.ctr(["task", "kill", "-a", "-s", "SIGKILL", id]);
    await until(async () => (await ctd.ctr(["task", "delete", id])).code === 0, 20_000, `${id} deleted`);
    assert.equal((await ctd.ctr(["container", "rm", id])).code, 0);
  };

  test("prints the runner's memory, CPU and pids as cgroups metrics (table and JSON)", async (t) => {
    const id = "spinner";
    await runDetached(id, "spin", []);
    const table = await ctd.ctr(["task", "metrics", id]);
    assert.equal(table.code, 0, ctd.explain(table));
    // ctr's table for the host's encoding: v1 names cgroup v1 files, v2 cgroup v2 files.
    const usage = hostCgroupMode() === "v2" ? /^memory\.usage\s+(\d+)/m : /^memory\.usage_in_bytes\s+(\d+)/m;
    assert.match(table.stdout, usage, ctd.explain(table));
    assert.match(table.stdout, /^pids\.current\s+[1-9]\d*/m, ctd.explain(table));
    assert.ok(Number(usage.exec(table.stdout)![1]) > 10 * 1024 * 1024, `memory usage: ${table.stdout}`);

    const first = await metrics(id);
    assert.ok(first.memory > 10 * 1024 * 1024 && first.memory < 4 * 1024 ** 3, `memory ${first.memory}`);
    assert.ok(first.pids >= 1 && first.pids < 200, `pids ${first.pids}`);
    assert.ok(first.limit > 2 ** 62, `no kernel limit on the runner's memory: ${first.limit}`);
    // The guest spins: its CPU grows between two readings.
    let later = first;
    await until(
      async () => {
        later = await metrics(id);
        return later.cpuNanos > first.cpuNanos + 50e6;
      },
      20_000,
      "the spinning guest's CPU to grow",
    );
    recordFigures(t, {
      "memory usage (MB)": Math.round(first.memory / 1e6),
      "pids.current": first.pids,
      "CPU between readings (ms)": Math.round((later.cpuNanos - first.cpuNanos) / 1e6),
    });
    await remove(id);
  });

  test("a paused task is measured; an exec's runner adds to the task's figures", async () => {
    const id = "sleeper";
    await runDetached(id, "sleep", ["/sleep-ms.wasm", "120000"]);
    const alone = await metrics(id);
    const exec = await ctd.ctr(["task", "exec", "-d", "--exec-id", "x1", id, "/sleep-ms.wasm", "120000"]);
    assert.equal(exec.code, 0, ctd.explain(exec));
    let both = alone;
    await until(
      async () => {
        both = await metrics(id);
        return both.pids > alone.pids;
      },
      20_000,
      "the exec's threads in pids.current",
    );
    assert.ok(
      both.memory > alone.memory + 10 * 1024 * 1024,
      `alone ${alone.memory}, with the exec ${both.memory}`,
    );
    assert.equal((await ctd.ctr(["task", "pause", id])).code, 0);
    assert.ok((await metrics(id)).memory > 10 * 1024 * 1024);
    assert.equal((await ctd.ctr(["task", "resume", id])).code, 0);
    await remove(id);
  });

  test("ctr task pause stops the whole task, its execs included: its CPU stands still until resume", async (t) => {
    const id = "frozen";
    await runDetached(id, "spin", []);
    const exec = await ctd.ctr(["task", "exec", "-d", "--exec-id", "spin2", id, "/busy-loop.wasm"]);
    assert.equal(exec.code, 0, ctd.explain(exec));
    await until(
      async () => (await ctd.ctr(["task", "ps", id])).stdout.trim().split("\n").length === 3,
      20_000,
      "2 pids",
    );
    assert.equal((await ctd.ctr(["task", "pause", id])).code, 0);
    await new Promise((r) => setTimeout(r, 300)); // SIGSTOP lands; the CPU clock ticks at 10 ms
    const c1 = (await metrics(id)).cpuNanos;
    await new Promise((r) => setTimeout(r, 2000));
    const c2 = (await metrics(id)).cpuNanos;
    // Two spinners get far more than 50 ms of CPU in 2 s even on a loaded machine; paused ones get none.
    assert.ok(c2 - c1 < 50e6, `the paused task used ${(c2 - c1) / 1e6} ms of CPU in 2 s`);
    const ps = await ctd.ctr(["task", "ls"]);
    assert.match(ps.stdout, new RegExp(`^${id}\\s+\\d+\\s+PAUSED`, "m"));
    assert.equal((await ctd.ctr(["task", "resume", id])).code, 0);
    await until(async () => (await metrics(id)).cpuNanos > c2 + 100e6, 20_000, "the resumed task to use CPU");
    recordFigures(t, { "CPU while paused (ms per 2 s)": (c2 - c1) / 1e6 });
    await remove(id);
  });
});
