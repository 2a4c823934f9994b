/**
 * CommandTimer runs commands from its helper process: not from this one (its pid is not their parent), one
 * after another, each failure rejected with the command's stderr and the helper still serving after it.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CommandTimer } from "./measure.js";

describe("CommandTimer", () => {
  test("times commands run by its helper, not by this process, and reports their failures", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodewasi-timer-"));
    const timer = new CommandTimer();
    try {
      const ppid = join(dir, "ppid");
      const ms = await timer.time("sh", ["-c", `echo $PPID > "${ppid}"`]);
      assert.ok(ms > 0);
      const parent = Number((await readFile(ppid, "utf8")).trim());
      assert.ok(
        parent > 0 && parent !== process.pid,
        `sh's parent is ${parent}, this process is ${process.pid}`,
      );
      await assert.rejects(
        timer.time("sh", ["-c", "echo no such thing >&2; exit 3"]),
        /exited 3: no such thing/,
      );
      assert.ok((await timer.time("true", [])) > 0, "the helper serves after a failure");
    } finally {
      timer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
