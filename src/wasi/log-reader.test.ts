/**
 * copyLog against a log that rotates all the time, written by another process as a guest's runner writes it.
 * Found in a loaded reliability run: `logs -f` printed line 95435, then 95434. Two rotations between opening
 * the log's newest file and its older ones put a newer file before an older one in the reading order.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { copyLog } from "./log-reader.js";

const dir = mkdtempSync(join(tmpdir(), "nodewasi-log-reader-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A process writing numbered 10-byte lines to `path` through RotatingLog, 20 lines a file, until killed. */
function writer(path: string) {
  const script = `
    const { RotatingLog } = await import(${JSON.stringify(new URL("./rotating-log.js", import.meta.url).href)});
    const log = new RotatingLog(${JSON.stringify(path)}, { maxSize: 200, maxFiles: 4 });
    process.stdout.write("ready\\n");
    for (let i = 0; ; i++) log.write(Buffer.from(String(i).padStart(9, "0") + "\\n"));
  `;
  return spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
}

describe("copyLog", () => {
  it("reads a log rotating every few microseconds in order: never a line before one it already gave", async () => {
    const path = join(dir, "busy.log");
    const child = writer(path);
    try {
      await new Promise((resolve) => child.stdout!.once("data", resolve));
      let copies = 0;
      for (const deadline = Date.now() + 3000; Date.now() < deadline || copies < 50; copies++) {
        const chunks: Buffer[] = [];
        await copyLog(path, async (b) => {
          chunks.push(Buffer.from(b));
        });
        const lines = Buffer.concat(chunks)
          .toString()
          .split("\n")
          .filter((l) => /^\d{9}$/.test(l))
          .map(Number);
        for (let i = 1; i < lines.length; i++) {
          assert.ok(lines[i]! > lines[i - 1]!, `copy ${copies}: line ${lines[i]} after ${lines[i - 1]}`);
        }
      }
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("goes on with the file after one dropped off the rotation, whatever the files' times say", async () => {
    // Found in a loaded run: `logs -f` printed line 85195, then 85194. Whether the file being read had been
    // dropped was decided by its name being gone, and its successor by mtime; a file renamed past the names
    // just read is not gone, and mtimes are as coarse as the kernel's tick (an older file can share the
    // one of the file read) or go back with the clock. Here a clock stepped back: C is stamped before B.
    const path = join(dir, "stepped.log");
    const lines = (from: number) =>
      Array.from({ length: 10 }, (_, i) => `${String(from + i).padStart(9, "0")}\n`).join("");
    writeFileSync(`${path}.1`, lines(0)); // A
    writeFileSync(path, lines(10)); // B, read live
    let calls = 0;
    const chunks: Buffer[] = [];
    await copyLog(path, async (b) => void chunks.push(Buffer.from(b)), {
      pollMs: 1,
      live: async () => {
        if (++calls === 1) {
          // Two rotations of a two-file log while B is read: A and then B are dropped (replaced by rename).
          renameSync(path, `${path}.1`);
          writeFileSync(path, lines(20)); // C
          const b = statSync(`${path}.1`);
          renameSync(path, `${path}.1`);
          writeFileSync(path, lines(30)); // D
          utimesSync(`${path}.1`, b.atime, new Date(b.mtimeMs - 3_600_000));
        }
        return calls < 3;
      },
    });
    const seen = Buffer.concat(chunks).toString().split("\n").filter(Boolean).map(Number);
    assert.deepEqual(
      seen,
      Array.from({ length: 40 }, (_, i) => i),
    );
  });
});
