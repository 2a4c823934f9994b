/**
 * Issue 10 item 7: a detached task's log has a cap. `run -d` of a guest writing 3 GiB made a 3 GiB log in 6 s;
 * now the log rotates as Docker's `--log-opt max-size/max-file` say (default 20m x 5), through the real CLI and
 * a real shim daemon, with real flooding guests (examples/modules/write-bytes.c, print-lines.c). The runner
 * writes and rotates the log itself, so a flood neither grows the daemon nor waits for it, and `logs -f` follows
 * the log through rotations that come every few milliseconds.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Task } from "../src/gen/index.js";
import { closeClient, createClient } from "../src/rpc/index.js";
import {
  type CliWork,
  cli,
  finished,
  makeWork,
  removeWork,
  shimPid,
  spawnCli,
  until,
  writeBytesPattern,
} from "./harness/index.js";
import { recordFigures } from "./harness/reliability.js";

const MiB = 1024 * 1024;

/** The files of task `id`'s log, by name. */
function logFiles(work: CliWork, id: string): string[] {
  return readdirSync(join(work.root, "logs"))
    .filter((f) => f === `${id}.log` || f.startsWith(`${id}.log.`))
    .sort();
}

/** Resident memory of `pid` in bytes (VmRSS). */
function rss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

/** A child's stdout as bytes (the pattern is no text), once it exited 0. */
async function rawOutput(child: ChildProcess): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => chunks.push(c));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  child.stdin!.end();
  const code = await new Promise((r) => child.once("close", r));
  assert.equal(code, 0, stderr);
  return Buffer.concat(chunks);
}

async function stopped(work: CliWork, id: string): Promise<{ exitStatus: number }> {
  let task: { status: string; exitStatus: number } | undefined;
  await until(
    `task ${id} to stop`,
    async () => {
      task = JSON.parse((await cli(work, ["ps", "-a", "--json"])).stdout).find(
        (t: { id: string }) => t.id === id,
      );
      return task?.status === "stopped";
    },
    120_000,
  );
  return task!;
}

describe("log floods", () => {
  let work: CliWork;

  before(async () => {
    work = await makeWork(["write-bytes", "print-lines"], 300);
  });
  after(() => removeWork(work));

  it("a guest writing 64 MiB: its log keeps the newest output under the cap, also while the daemon is stopped", async (t) => {
    const size = 64 * MiB;
    await cli(work, ["run", "--rm", work.image("write-bytes"), "0"]); // the daemon is up, the image stored
    const daemon = (await shimPid(work.address))!;
    const before = rss(daemon);
    const run = await cli(work, [
      "run",
      "-d",
      "--name",
      "flood",
      "--log-opt",
      "max-size=1m",
      "--log-opt",
      "max-file=3",
      work.image("write-bytes"),
      String(size),
    ]);
    assert.equal(run.code, 0, run.stderr);
    // The daemon takes no part in writing the log: stopped, it holds nothing up.
    process.kill(daemon, "SIGSTOP");
    try {
      await until(
        "rotations while the daemon is stopped",
        () => logFiles(work, "flood").length === 3,
        60_000,
      );
    } finally {
      process.kill(daemon, "SIGCONT");
    }
    assert.equal((await stopped(work, "flood")).exitStatus, 0);
    assert.deepEqual(logFiles(work, "flood"), ["flood.log", "flood.log.1", "flood.log.2"]);
    for (const f of logFiles(work, "flood")) assert.ok(statSync(join(work.root, "logs", f)).size <= MiB, f);
    const out = await rawOutput(spawnCli(work, ["logs", "flood"]));
    assert.ok(out.length > 2 * MiB && out.length <= 3 * MiB, `${out.length} bytes`);
    assert.ok(writeBytesPattern(size, size - out.length).equals(out), "the last bytes written, in order");
    const grew = rss(daemon) - before;
    assert.ok(grew < 32 * MiB, `the daemon grew by ${grew} bytes`);
    assert.equal((await cli(work, ["rm", "flood"])).code, 0);
    assert.deepEqual(logFiles(work, "flood"), [], "rm removes the rotated files too");
    recordFigures(t, {
      "guest wrote": "64 MiB",
      "log options": "max-size=1m max-file=3",
      "log files kept": "3, each <= 1 MiB",
      "logs printed": "the newest 2-3 MiB, byte for byte",
      "daemon stopped (SIGSTOP) during the flood": "rotations went on",
      "daemon memory growth": "< 32 MiB (held)",
    });
  });

  it("logs -f follows a log rotated every few ms: each line once, in order, to the last one", async (t) => {
    const lines = 100_000;
    const run = await cli(work, [
      "run",
      "-d",
      "--name",
      "lines",
      "--log-opt",
      "max-size=4k",
      "--log-opt",
      "max-file=4",
      work.image("print-lines"),
      String(lines),
      "1",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const followed = await finished(spawnCli(work, ["logs", "-f", "lines"]));
    assert.equal(followed.code, 0, followed.stderr);
    const seen = followed.stdout
      .split("\n")
      .filter((l) => /^\d{9}$/.test(l))
      .map(Number);
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i]! > seen[i - 1]!, `line ${seen[i]} after ${seen[i - 1]}`);
    assert.equal(seen.at(-1), lines - 1, "the follower read to the end");
    assert.ok(seen.length > 1000, `only ${seen.length} lines followed`);
    const files = logFiles(work, "lines");
    assert.ok(files.length <= 4 && files.every((f) => statSync(join(work.root, "logs", f)).size <= 4096));
    recordFigures(t, {
      "lines written": lines,
      "log options": "max-size=4k max-file=4 (a rotation every ~400 lines)",
      "lines followed twice or out of order": 0,
      "last line followed": "yes",
    });
  });

  it("a detached task's log is capped by default (20m x 5, Docker's local driver)", async () => {
    const run = await cli(work, ["run", "-d", "--name", "dflt", work.image("write-bytes"), "1000"]);
    assert.equal(run.code, 0, run.stderr);
    await stopped(work, "dflt");
    const task = createClient(Task, work.address, { timeoutMs: 10_000 });
    try {
      const state = await task.state({ id: "dflt" });
      assert.match(state.stdout, /^file:\/\/.*\/logs\/dflt\.log\?max-size=20971520&max-file=5$/);
    } finally {
      closeClient(task);
    }
  });
});
