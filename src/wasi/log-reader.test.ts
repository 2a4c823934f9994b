/**
 * copyLog against a log that rotates all the time, written by another process as a guest's runner writes it.
 * Found in a loaded reliability run: `logs -f` printed line 95435, then 95434. Two rotations between opening
 * the log's newest file and its older ones put a newer file before an older one in the reading order.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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
});
