import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { specFor, tempDir, writeBytesPattern } from "../../test/harness/index.js";
import { ChildRunner } from "./child-runner.js";
import { RotatingLog, rotatedPath } from "./rotating-log.js";
import { findBwrap } from "./sandbox.js";

const tmp = tempDir("nodewasi-rotate-");
after(() => tmp.remove());
let n = 0;

/** The log at `path` and its rotated files, oldest first, joined. */
function joined(path: string, maxFiles: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = maxFiles - 1; i >= 0; i--) {
    if (existsSync(rotatedPath(path, i))) parts.push(readFileSync(rotatedPath(path, i)));
  }
  return Buffer.concat(parts);
}

/** The files of the log at `path` that exist, by name. */
function files(path: string): string[] {
  const base = path.split("/").pop()!;
  return readdirSync(join(path, ".."))
    .filter((f) => f === base || f.startsWith(`${base}.`))
    .sort();
}

describe("RotatingLog", () => {
  it("keeps at most max-file files of at most max-size bytes: the newest output, in order", () => {
    const path = join(tmp.dir, `a${++n}.log`);
    const log = new RotatingLog(path, { maxSize: 1000, maxFiles: 3 });
    const all = writeBytesPattern(10_500);
    // Writes of odd sizes, so that most straddle a rotation and are split there.
    for (let at = 0; at < all.length; at += 333)
      assert.equal(log.write(all.subarray(at, at + 333)), Math.min(333, all.length - at));
    log.close();
    assert.deepEqual(files(path), [`a${n}.log`, `a${n}.log.1`, `a${n}.log.2`]);
    for (const f of files(path)) assert.ok(statSync(join(tmp.dir, f)).size <= 1000, f);
    const kept = joined(path, 3);
    assert.equal(kept.length, 2500, "two full files and the 500 bytes written since");
    assert.deepEqual(kept, all.subarray(all.length - kept.length));
  });

  it("with max-file 1 starts its one file again at max-size", () => {
    const path = join(tmp.dir, `b${++n}.log`);
    const log = new RotatingLog(path, { maxSize: 100, maxFiles: 1 });
    log.write(Buffer.alloc(250, 1));
    log.close();
    assert.deepEqual(files(path), [`b${n}.log`]);
    assert.equal(statSync(path).size, 50);
  });

  it("counts what an existing file holds, and starts again when its file was deleted meanwhile", () => {
    const path = join(tmp.dir, `c${++n}.log`);
    writeFileSync(path, Buffer.alloc(90));
    const log = new RotatingLog(path, { maxSize: 100, maxFiles: 2 });
    log.write(Buffer.alloc(20, 2)); // 10 more fit, then a rotation
    assert.equal(statSync(rotatedPath(path, 1)).size, 100);
    assert.equal(statSync(path).size, 10);
    unlinkSync(path); // deleted under the writer: the next bytes go to the deleted file, up to the cap
    log.write(Buffer.alloc(150, 3));
    log.close();
    assert.equal(statSync(path).size, 60, "a new file once the deleted one was full");
    assert.equal(statSync(rotatedPath(path, 1)).size, 100, "the older file kept");
  });

  it("never writes through a symlink put in place of its file (the runner may be root)", () => {
    const path = join(tmp.dir, `d${++n}.log`);
    const victim = join(tmp.dir, `victim${n}`);
    writeFileSync(victim, "precious\n");
    const log = new RotatingLog(path, { maxSize: 100, maxFiles: 2 });
    log.write(Buffer.alloc(50, 4));
    unlinkSync(path);
    symlinkSync(victim, path);
    log.write(Buffer.alloc(300, 5)); // rotates twice: the link is renamed away, then dropped; never opened
    log.close();
    assert.equal(readFileSync(victim, "utf8"), "precious\n");
    assert.ok(!lstatSync(path).isSymbolicLink());
    assert.ok(!lstatSync(rotatedPath(path, 1)).isSymbolicLink());
    const linked = join(tmp.dir, `e${n}.log`);
    symlinkSync(victim, linked);
    assert.throws(() => new RotatingLog(linked, { maxSize: 100, maxFiles: 2 }), /ELOOP/);
    assert.equal(readFileSync(victim, "utf8"), "precious\n");
  });
});

const bwrap = findBwrap();
describe("a guest writing to a rotated log (the runner's fd_write)", () => {
  const runners: [string, ChildRunner][] = [];
  before(() => {
    runners.push(["unsandboxed", new ChildRunner({ isolation: "none", pool: 1 })]);
    if (bwrap) runners.push(["cold bwrap sandbox", new ChildRunner({ isolation: "bwrap", pool: 0 })]);
  });
  after(async () => {
    for (const [, r] of runners) await r.close();
  });

  it("writes the newest output under the cap, stdout and stderr into one log, whatever the sandbox", async () => {
    for (const [name, runner] of runners) {
      const path = join(tmp.dir, `guest${++n}.log`);
      const rotate = { maxSize: 64 * 1024, maxFiles: 3 };
      const size = 1_000_000;
      const log = { kind: "file" as const, path, rotate };
      const p = await runner.start(specFor("write-bytes", [String(size)], { stdout: log, stderr: log }));
      assert.equal((await p.exited).code, 0, name);
      assert.deepEqual(files(path).length, 3, name);
      for (const f of files(path))
        assert.ok(statSync(join(tmp.dir, f)).size <= rotate.maxSize, `${name}: ${f}`);
      const kept = joined(path, 3);
      assert.ok(kept.length > 2 * rotate.maxSize, name);
      assert.ok(
        writeBytesPattern(size, size - kept.length).equals(kept),
        `${name}: the newest bytes, in order`,
      );
    }
  });
});
