/**
 * Reading a Task.Stats answer in tests, whichever of containerd's two cgroups encodings the shim chose (it
 * follows the host's cgroup mode: src/shim/cgroup-metrics.ts). Fails the test on any other type URL: that is
 * what `ctr task metrics` and the CRI plugin refuse.
 */
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { cgroupsV1, cgroupsV2 } from "../../src/gen/index.js";

export interface MetricsFigures {
  mode: "v1" | "v2";
  /** Memory usage (v1 `memory.usage_in_bytes`, v2 `memory.current`), bytes. */
  memoryBytes: bigint;
  /** CPU used (v1 `cpuacct.usage`; v2 `usage_usec` in ns), nanoseconds. */
  cpuNanos: bigint;
  /** `pids.current`. */
  pids: bigint;
}

/** The main figures of a Stats Any, decoded by its bare type URL as containerd decodes it. */
export function metricsFigures(any: { typeUrl?: string; value?: Uint8Array } | undefined): MetricsFigures {
  assert.ok(any?.value, "Stats returned no Any");
  if (any.typeUrl === "io.containerd.cgroups.v1.Metrics") {
    const m = fromBinary(cgroupsV1.MetricsSchema, any.value);
    assert.ok(
      m.memory?.usage && m.cpu?.usage && m.pids,
      "v1 metrics without memory.usage, cpu.usage or pids",
    );
    return {
      mode: "v1",
      memoryBytes: m.memory.usage.usage,
      cpuNanos: m.cpu.usage.total,
      pids: m.pids.current,
    };
  }
  assert.equal(any.typeUrl, "io.containerd.cgroups.v2.Metrics", "Stats is neither v1 nor v2 cgroups metrics");
  const m = fromBinary(cgroupsV2.MetricsSchema, any.value);
  assert.ok(m.memory && m.cpu && m.pids, "v2 metrics without memory, cpu or pids");
  return { mode: "v2", memoryBytes: m.memory.usage, cpuNanos: m.cpu.usageUsec * 1000n, pids: m.pids.current };
}
