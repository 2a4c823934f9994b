import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { cgroupsV1, cgroupsV2 } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import type { ProcessStats } from "../wasi/index.js";
import {
  ContainerCounters,
  cgroupMetrics,
  hostCgroupMode,
  measureProcesses,
  V1_NO_MEMORY_LIMIT,
  V2_NO_LIMIT,
} from "./cgroup-metrics.js";

const MIB = 1024 * 1024;
const proc = (rssMib: number): ProcessStats => ({
  memoryBytes: rssMib * MIB,
  peakMemoryBytes: (rssMib + 10) * MIB,
  anonBytes: (rssMib - 20) * MIB,
  fileBytes: 19 * MIB,
  shmemBytes: 1 * MIB,
  swapBytes: 4096,
  cpuNanos: 3_000_000_000,
  userNanos: 2_500_000_000,
  systemNanos: 500_000_000,
  threads: 11,
  minorFaults: 1000,
  majorFaults: 3,
});

describe("cgroupMetrics", () => {
  it("v1: io.containerd.cgroups.v1.Metrics with a bare type URL, the processes added up, no limits", () => {
    const any = cgroupMetrics([proc(50), proc(60)], "v1");
    assert.equal(any.typeUrl, "io.containerd.cgroups.v1.Metrics");
    const m = fromBinary(cgroupsV1.MetricsSchema, any.value);
    assert.deepEqual(m.pids && { current: m.pids.current, limit: m.pids.limit }, { current: 22n, limit: 0n });
    assert.equal(m.cpu?.usage?.total, 6_000_000_000n);
    assert.equal(m.cpu?.usage?.user, 5_000_000_000n);
    assert.equal(m.cpu?.usage?.kernel, 1_000_000_000n);
    const mem = m.memory!;
    assert.equal(mem.usage?.usage, BigInt(110 * MIB));
    assert.equal(mem.usage?.max, BigInt(130 * MIB));
    assert.equal(mem.usage?.limit, V1_NO_MEMORY_LIMIT);
    assert.equal(mem.totalRss, BigInt(70 * MIB));
    assert.equal(mem.totalCache, BigInt(40 * MIB));
    assert.equal(mem.totalPgFault, 2006n);
    assert.equal(mem.totalPgMajFault, 6n);
    assert.equal(mem.totalInactiveFile, 0n, "the CRI working set is the whole usage");
    assert.equal(mem.swap?.usage, BigInt(110 * MIB + 8192));
  });

  it("v2: io.containerd.cgroups.v2.Metrics with a bare type URL, microseconds of CPU, no limits", () => {
    const any = cgroupMetrics([proc(50)], "v2");
    assert.equal(any.typeUrl, "io.containerd.cgroups.v2.Metrics");
    const m = fromBinary(cgroupsV2.MetricsSchema, any.value);
    assert.deepEqual(m.pids && { current: m.pids.current, limit: m.pids.limit }, {
      current: 11n,
      limit: V2_NO_LIMIT,
    });
    assert.equal(m.cpu?.usageUsec, 3_000_000n);
    assert.equal(m.cpu?.userUsec, 2_500_000n);
    assert.equal(m.cpu?.systemUsec, 500_000n);
    const mem = m.memory!;
    assert.equal(mem.usage, BigInt(50 * MIB));
    assert.equal(mem.maxUsage, BigInt(60 * MIB));
    assert.equal(mem.usageLimit, V2_NO_LIMIT);
    assert.equal(mem.anon, BigInt(30 * MIB));
    assert.equal(mem.file, BigInt(20 * MIB));
    assert.equal(mem.pgfault, 1003n);
    assert.equal(mem.swapUsage, 4096n);
  });
});

describe("hostCgroupMode", () => {
  it("is v1 for a folder that is no cgroup2 mount, or no folder at all", () => {
    const dir = mkdtempSync(join(tmpdir(), "nodewasi-cg-"));
    try {
      assert.equal(hostCgroupMode(dir), "v1");
      assert.equal(hostCgroupMode(join(dir, "missing")), "v1");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is v2 for a cgroup2 mount, and agrees with the mount table for /sys/fs/cgroup", (t) => {
    const mounts = readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" "));
    const unified = mounts.find((f) => f[2] === "cgroup2")?.[1];
    const root = mounts.find((f) => f[1] === "/sys/fs/cgroup")?.[2];
    assert.equal(hostCgroupMode(), root === "cgroup2" ? "v2" : "v1");
    if (!unified) return t.skip("no cgroup2 mount on this host");
    assert.equal(hostCgroupMode(unified), "v2");
  });
});

describe("measureProcesses", () => {
  const live = { stats: async () => proc(50) };
  const gone = {
    stats: async () => Promise.reject(new ShimError(Code.NotFound, "process 7: it has exited")),
  };
  const broken = { stats: async () => Promise.reject(new Error("EACCES")) };
  const sync = {
    stats: (): Promise<ProcessStats> => {
      throw new ShimError(Code.NotFound, "gone at once");
    },
  };

  it("leaves out processes that are gone (NotFound), keeps the others", async () => {
    const m = await measureProcesses([live, gone, sync]);
    assert.deepEqual([...m.keys()], [live]);
  });

  it("throws any other failure", async () => {
    await assert.rejects(measureProcesses([live, broken]), /EACCES/);
  });
});

describe("ContainerCounters", () => {
  it("keeps CPU and faults of processes that left, never memory or threads", () => {
    const counters = new ContainerCounters();
    const [a, b] = [{}, {}];
    const at = (cpu: number): ProcessStats => ({
      ...proc(50),
      cpuNanos: cpu,
      userNanos: cpu,
      systemNanos: 0,
    });
    const total = (list: ProcessStats[]) => list.reduce((n, s) => n + s.cpuNanos, 0);
    assert.equal(
      total(
        counters.account(
          new Map([
            [a, at(100)],
            [b, at(500)],
          ]),
        ),
      ),
      600,
    );
    const afterB = counters.account(new Map([[a, at(150)]]));
    assert.equal(total(afterB), 650, "b's last 500 stays");
    assert.equal(
      afterB.reduce((n, s) => n + s.memoryBytes + s.threads, 0),
      proc(50).memoryBytes + 11,
      "only a's memory and threads",
    );
    assert.equal(total(counters.account(new Map())), 650, "a's last 150 joins b's");
  });
});
