import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { atomicWrite } from "./atomic-write.js";

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
