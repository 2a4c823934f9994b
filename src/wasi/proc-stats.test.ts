import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clockTicks } from "../internal/index.js";
import { parseProcStats, procStats, sumStats } from "./proc-stats.js";

// Trimmed from a real /proc/PID/status and /proc/PID/stat (a command name with spaces and a parenthesis).
const STATUS = [
  "Name:\tnode",
  "State:\tS (sleeping)",
  "VmPeak:\t 1100000 kB",
  "VmHWM:\t   61000 kB",
  "VmRSS:\t   50000 kB",
  "RssAnon:\t   30000 kB",
  "RssFile:\t   19000 kB",
  "RssShmem:\t    1000 kB",
  "VmSwap:\t      12 kB",
  "Threads:\t11",
  "",
].join("\n");
const STAT =
  "4242 (node (a) b) S 1 4242 4242 0 -1 4194560 5000 0 7 0 250 50 0 0 20 0 11 0 99991 1126400000 12500 " +
  "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

describe("procStats", () => {
  it("reads memory, CPU, threads and faults from status and stat, whatever the command name holds", () => {
    const s = parseProcStats(STATUS, STAT);
    const tick = 1e9 / clockTicks();
    assert.deepEqual(s, {
      memoryBytes: 50000 * 1024,
      peakMemoryBytes: 61000 * 1024,
      anonBytes: 30000 * 1024,
      fileBytes: 19000 * 1024,
      shmemBytes: 1000 * 1024,
      swapBytes: 12 * 1024,
      cpuNanos: Math.round(250 * tick) + Math.round(50 * tick),
      userNanos: Math.round(250 * tick),
      systemNanos: Math.round(50 * tick),
      threads: 11,
      minorFaults: 5000,
      majorFaults: 7,
    });
  });

  it("counts what a zombie's status lacks as 0, threads from stat", () => {
    const s = parseProcStats("Name:\tnode\nState:\tZ (zombie)\n", STAT);
    assert.equal(s.memoryBytes, 0);
    assert.equal(s.anonBytes, 0);
    assert.equal(s.threads, 11);
  });

  it("measures a live process, and answers NotFound for one that is gone", async () => {
    const s = await procStats(process.pid);
    assert.ok(s.memoryBytes > 10 * 1024 * 1024, `RSS ${s.memoryBytes}`);
    assert.ok(s.peakMemoryBytes >= s.memoryBytes);
    assert.ok(s.anonBytes > 0 && s.anonBytes + s.fileBytes + s.shmemBytes <= s.memoryBytes + 4096);
    assert.ok(s.threads >= 2, `threads ${s.threads}`);
    assert.equal(s.cpuNanos, s.userNanos + s.systemNanos);
    await assert.rejects(procStats(2 ** 22 + 1), /no stats, it is not running/);
  });

  it("adds up several processes field by field", () => {
    const one = parseProcStats(STATUS, STAT);
    const two = sumStats([one, one]);
    for (const k of Object.keys(one) as (keyof typeof one)[]) assert.equal(two[k], 2 * one[k], k);
    assert.equal(sumStats([]).memoryBytes, 0);
  });
});
