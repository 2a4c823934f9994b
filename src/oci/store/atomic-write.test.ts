import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { atomicWrite, atomicWriteIfChanged } from "./atomic-write.js";

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-atomic-"));
});
after(() => rm(tmp, { recursive: true, force: true }));

describe("atomicWrite", () => {
  for (const durable of [true, false]) {
    it(`replaces a file whole, mode 0600, leaving no temporary (durable: ${durable})`, async () => {
      const dir = join(tmp, `d-${durable}`);
      const path = join(dir, "f.json");
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir);
      await atomicWrite(path, "first\n", { durable });
      await atomicWrite(path, "second\n", { durable });
      assert.equal(await readFile(path, "utf8"), "second\n");
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual(await readdir(dir), ["f.json"]);
    });
  }

  it("a write into a missing folder fails and leaves nothing", async () => {
    const path = join(tmp, "missing", "f.json");
    await assert.rejects(atomicWrite(path, "x", { durable: false }), { code: "ENOENT" });
    await assert.rejects(stat(join(tmp, "missing")), { code: "ENOENT" });
  });
});

describe("atomicWriteIfChanged", () => {
  it("leaves a file that holds the same text as it is (same inode), and replaces one that differs or is missing", async () => {
    const dir = join(tmp, "if-changed");
    await mkdir(dir);
    const path = join(dir, "index.json");
    assert.equal(await atomicWriteIfChanged(path, "one\n"), true);
    const first = await stat(path);
    assert.equal(await atomicWriteIfChanged(path, "one\n"), false);
    assert.equal((await stat(path)).ino, first.ino);
    assert.equal(await atomicWriteIfChanged(path, "two\n"), true);
    assert.notEqual((await stat(path)).ino, first.ino);
    assert.equal(await readFile(path, "utf8"), "two\n");
    assert.deepEqual(await readdir(dir), ["index.json"]);
  });
});
