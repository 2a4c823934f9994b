/**
 * What Task.Stats answers: containerd decodes its Any as cgroups metrics, nothing else. `ctr task metrics`
 * accepts `io.containerd.cgroups.v1.Metrics` or `.v2.Metrics`, and the CRI plugin's ContainerStats and
 * ListContainerStats fail on any other type (the list as a whole, for every container of the node). runc's
 * shim reads the container's cgroup and answers v2 on a unified host and v1 otherwise (hybrid included:
 * `cgroups.Mode() != Unified`); runwasi's containerd-shimkit does the same with the cgroup of the task's pid.
 *
 * nodewasi makes no cgroup per task, so the fields are those a cgroup holding only the task's runner processes
 * would show, from their /proc figures (`wasi/proc-stats.ts`): memory usage is their resident memory (Node's
 * baseline included), CPU their user and system time, `pids.current` their threads (a pids cgroup counts
 * threads). Limits read "none", as the kernel shows for a cgroup without one: the task's memory limit caps the
 * guest's linear memory inside V8 (DESIGN decision 9), not these processes' resident memory, and reporting it
 * here as the kernel's limit would make the CRI plugin's AvailableBytes (limit - working set) wrap around
 * whenever Node's baseline exceeds a small cap.
 *
 * The Any's type URL is bare (`io.containerd.cgroups.v1.Metrics`), as runc's is: containerd 1.6's typeurl
 * finds these gogo types by bare name only, and says "type with url type.googleapis.com/...: not found" for
 * the prefixed form.
 */
import { statfsSync } from "node:fs";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Any, AnySchema } from "@bufbuild/protobuf/wkt";
import { cgroupsV1, cgroupsV2 } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import { type ProcessStats, sumStats } from "../wasi/index.js";

/** Which encoding containerd gets: v1 on a legacy or hybrid cgroup host, v2 on a unified one. */
export type CgroupMode = "v1" | "v2";

/** statfs(2) `f_type` of a cgroup2 filesystem (linux/magic.h CGROUP2_SUPER_MAGIC). */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** What a v1 `memory.limit_in_bytes` reads without a limit (PAGE_COUNTER_MAX pages of 4 KiB). */
export const V1_NO_MEMORY_LIMIT = 9223372036854771712n;
/** What containerd/cgroups reports for a v2 limit file holding `max`. */
export const V2_NO_LIMIT = 2n ** 64n - 1n;

const modes = new Map<string, CgroupMode>();

/**
 * The host's cgroup mode, as containerd/cgroups' `Mode()` decides it for runc's shim: v2 when `root` is a
 * cgroup2 mount (unified), else v1 (legacy, hybrid, or no cgroup filesystem at all: containerd decodes both).
 * Read once per root.
 */
export function hostCgroupMode(root = "/sys/fs/cgroup"): CgroupMode {
  let mode = modes.get(root);
  if (!mode) {
    try {
      mode = statfsSync(root).type === CGROUP2_SUPER_MAGIC ? "v2" : "v1";
    } catch {
      mode = "v1";
    }
    modes.set(root, mode);
  }
  return mode;
}

/**
 * Reads the stats of each process; a process that ended since the caller chose it (its runner is gone, its exit
 * not reported yet: that waits for its stdio to flush) is left out, as a cgroup stops counting a process that
 * has exited, instead of failing the whole task's Stats. Other failures are thrown.
 */
export async function measureProcesses<P extends { stats(): Promise<ProcessStats> }>(
  processes: readonly P[],
): Promise<Map<P, ProcessStats>> {
  const read = await Promise.allSettled(processes.map((p) => Promise.resolve().then(() => p.stats())));
  const out = new Map<P, ProcessStats>();
  read.forEach((r, i) => {
    if (r.status === "fulfilled") out.set(processes[i]!, r.value);
    else if (!(r.reason instanceof ShimError && r.reason.code === Code.NotFound)) throw r.reason;
  });
  return out;
}

/** The figures of ProcessStats that only grow, as a cgroup's cpuacct.usage and pgfault do. */
const CUMULATIVE = ["cpuNanos", "userNanos", "systemNanos", "minorFaults", "majorFaults"] as const;

/**
 * Keeps a container's cumulative figures from going down, as a cgroup's never do: the cgroup keeps the CPU time
 * and faults of processes that ended, while /proc forgets a process once it is reaped. Without it a container's
 * CPU dropped when an exec ended (a kubelet exec probe, every few seconds), and the CRI plugin, which takes
 * usage_nano_cores as (now - before) / interval in unsigned arithmetic, reported 2^63 nanocores. What a process
 * used between its last reading and its exit is not counted: it is gone from /proc by then.
 */
export class ContainerCounters {
  readonly #last = new Map<object, ProcessStats>();
  readonly #ended: ProcessStats = sumStats([]);

  /** The live processes' stats plus a record of what the ended ones last showed, for cgroupMetrics. */
  account(live: ReadonlyMap<object, ProcessStats>): ProcessStats[] {
    for (const [p, s] of this.#last) {
      if (live.has(p)) continue;
      for (const k of CUMULATIVE) this.#ended[k] += s[k];
      this.#last.delete(p);
    }
    for (const [p, s] of live) this.#last.set(p, s);
    return [...live.values(), { ...this.#ended }];
  }
}

/** The stats of a task's live processes as containerd's cgroups metrics of `mode`, packed for Task.Stats. */
export function cgroupMetrics(each: readonly ProcessStats[], mode: CgroupMode): Any {
  const s = sumStats(each);
  const n = (v: number) => BigInt(Math.max(0, Math.round(v)));
  if (mode === "v2") {
    const m = create(cgroupsV2.MetricsSchema, {
      pids: { current: n(s.threads), limit: V2_NO_LIMIT },
      cpu: {
        usageUsec: n(s.cpuNanos / 1000),
        userUsec: n(s.userNanos / 1000),
        systemUsec: n(s.systemNanos / 1000),
      },
      memory: {
        anon: n(s.anonBytes),
        file: n(s.fileBytes + s.shmemBytes),
        shmem: n(s.shmemBytes),
        fileMapped: n(s.fileBytes),
        pgfault: n(s.minorFaults + s.majorFaults),
        pgmajfault: n(s.majorFaults),
        usage: n(s.memoryBytes),
        usageLimit: V2_NO_LIMIT,
        maxUsage: n(s.peakMemoryBytes),
        swapUsage: n(s.swapBytes),
        swapLimit: V2_NO_LIMIT,
      },
    });
    return create(AnySchema, { typeUrl: m.$typeName, value: toBinary(cgroupsV2.MetricsSchema, m) });
  }
  const cache = n(s.fileBytes + s.shmemBytes);
  const rss = n(s.anonBytes);
  const faults = n(s.minorFaults + s.majorFaults);
  const m = create(cgroupsV1.MetricsSchema, {
    // v1 reads a pids.max of "max" as 0 (containerd/cgroups cgroup1 readUint).
    pids: { current: n(s.threads), limit: 0n },
    cpu: {
      usage: { total: n(s.cpuNanos), kernel: n(s.systemNanos), user: n(s.userNanos), perCpu: [] },
      throttling: {},
    },
    memory: {
      cache,
      rss,
      mappedFile: n(s.fileBytes),
      pgFault: faults,
      pgMajFault: n(s.majorFaults),
      hierarchicalMemoryLimit: V1_NO_MEMORY_LIMIT,
      hierarchicalSwapLimit: V1_NO_MEMORY_LIMIT,
      totalCache: cache,
      totalRss: rss,
      totalMappedFile: n(s.fileBytes),
      totalPgFault: faults,
      totalPgMajFault: n(s.majorFaults),
      // ctr dereferences usage (and cpu.usage) whenever memory (cpu) is present: never leave them out.
      usage: { usage: n(s.memoryBytes), max: n(s.peakMemoryBytes), limit: V1_NO_MEMORY_LIMIT },
      // memsw: memory + swap.
      swap: { usage: n(s.memoryBytes + s.swapBytes), limit: V1_NO_MEMORY_LIMIT },
    },
  });
  return create(AnySchema, { typeUrl: m.$typeName, value: toBinary(cgroupsV1.MetricsSchema, m) });
}
