/**
 * copyLog against a log that rotates all the time, written by another process as a guest's runner writes it,
 * and against one written step by step in this process between the reader's rounds (the `live` callback), for
 * the orders of events that a loaded machine produces only now and then.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { copyLog } from "./log-reader.js";
import { RotatingLog } from "./rotating-log.js";

const dir = mkdtempSync(join(tmpdir(), "nodewasi-log-reader-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A process writing numbered 10-byte lines to `path` through RotatingLog, 20 lines a file, until killed;
 * with `pauseMs`, pausing that long after each file's last line.
 */
function writer(path: string, pauseMs = 0) {
  const script = `
    const { RotatingLog } = await import(${JSON.stringify(new URL("./rotating-log.js", import.meta.url).href)});
    const log = new RotatingLog(${JSON.stringify(path)}, { maxSize: 200, maxFiles: 4 });
    process.stdout.write("ready\\n");
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; ; i++) {
      log.write(Buffer.from(String(i).padStart(9, "0") + "\\n"));
      if (${pauseMs} > 0 && i % 20 === 19) Atomics.wait(pause, 0, 0, ${pauseMs});
    }
  `;
  return spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
}

/**
 * Copies (no `live`) of a log that writer(`name`, `pauseMs`) writes meanwhile, for 3 s and 50 copies at least:
 * the numbers of each one's lines.
 */
async function* copiesWhileWritten(name: string, pauseMs: number) {
  const path = join(dir, name);
  const child = writer(path, pauseMs);
  try {
    await new Promise((resolve) => child.stdout!.once("data", resolve));
    let copy = 0;
    for (const deadline = Date.now() + 3000; Date.now() < deadline || copy < 50; copy++) {
      const chunks: Buffer[] = [];
      await copyLog(path, async (b) => void chunks.push(Buffer.from(b)));
      const lines = Buffer.concat(chunks)
        .toString()
        .split("\n")
        .filter((l) => /^\d{9}$/.test(l))
        .map(Number);
      yield { lines, copy };
    }
  } finally {
    child.kill("SIGKILL");
  }
}

describe("copyLog", () => {
  // Found in a loaded reliability run: `logs -f` printed line 95435, then 95434. Two rotations between opening
  // the log's newest file and its older ones put a newer file before an older one in the reading order.
  it("reads a log rotating every few microseconds in order: never a line before one it already gave", async () => {
    for await (const { lines, copy } of copiesWhileWritten("busy.log", 0)) {
      for (let i = 1; i < lines.length; i++) {
        assert.ok(lines[i]! > lines[i - 1]!, `copy ${copy}: line ${lines[i]} after ${lines[i - 1]}`);
      }
    }
  });

  it("reads a log rotating every millisecond without a gap: the files it opens at once follow each other", async () => {
    for await (const { lines, copy } of copiesWhileWritten("paced.log", 1)) {
      for (let i = 1; i < lines.length; i++) {
        assert.equal(lines[i], lines[i - 1]! + 1, `copy ${copy}: line ${lines[i]} after ${lines[i - 1]}`);
      }
    }
  });

  it("goes on with the file after one dropped off the rotation, whatever the files' times say", async () => {
    // Found in a loaded run: `logs -f` printed line 85195, then 85194. Whether the file being read had been
    // dropped was decided by its name being gone, and its successor by mtime; a file renamed past the names
    // just read is not gone, and mtimes are as coarse as the kernel's tick (an older file can share the
    // one of the file read) or go back with the clock. Here a clock stepped back: C is stamped before B.
    const path = join(dir, "stepped.log");
    const lines = (from: number) => stream(from, from + 10);
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

  // Found in a loaded reliability run: `logs -f` printed line 65944, then 000065233: the "000065" that began
  // line 65945, at the end of the file it was reading, then the "233" that ended line 78233, at the start of
  // the oldest file left once that one had been dropped, 30 files later.
  it("after a skip, ends the line the file it left cut off instead of joining it to a line of the next file", async () => {
    // Bytes 64-128 are being read (ending with 8 bytes of line 12); the writer then fills 128-192 (dropped
    // unread) and 192-256, and writes on to 280: the reader goes from 128 to 192, inside line 19.
    const all = stream(0, 28);
    assert.equal(await follow("skipped.log", 18), `${all.slice(0, 128)}\n${all.slice(192)}`);
  });

  it("without a skip, prints a line cut by a rotation whole", async () => {
    // One rotation only: the file read is at PATH.1, the next at PATH.
    assert.equal(await follow("kept.log", 5), stream(0, 15));
  });
});

/** Numbered 10-byte lines from `from` to `to` (excluded), as one stream. */
function stream(from: number, to: number): string {
  return Array.from({ length: to - from }, (_, i) => `${String(from + i).padStart(9, "0")}\n`).join("");
}

/**
 * Follows a log of 64-byte files (lines are cut at every file's end: 64, 128... are no multiple of 10), kept
 * two at a time, written in this process: 10 lines, which the reader reads, then `more` lines at once, then
 * no more. Resolves with what the reader printed.
 */
async function follow(name: string, more: number): Promise<string> {
  const path = join(dir, name);
  const log = new RotatingLog(path, { maxSize: 64, maxFiles: 2 });
  log.write(Buffer.from(stream(0, 10)));
  let calls = 0;
  const chunks: Buffer[] = [];
  try {
    await copyLog(path, async (b) => void chunks.push(Buffer.from(b)), {
      pollMs: 1,
      live: async () => {
        if (++calls === 1) log.write(Buffer.from(stream(10, 10 + more)));
        return calls === 1;
      },
    });
  } finally {
    log.close();
    closeSync(log.fd);
  }
  return Buffer.concat(chunks).toString();
}
