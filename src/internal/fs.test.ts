import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { lstatOrUndefined, pathExists } from "./fs.js";

describe("fs helpers", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-fs-"));
    await writeFile(join(dir, "file"), "x");
    await mkdir(join(dir, "sub"));
    await symlink("nowhere", join(dir, "dangling"));
    await symlink("file", join(dir, "link"));
    await symlink("loop", join(dir, "loop"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("lstatOrUndefined describes the path itself, not a link's target", async () => {
    assert.ok((await lstatOrUndefined(join(dir, "file")))?.isFile());
    assert.ok((await lstatOrUndefined(join(dir, "sub")))?.isDirectory());
    assert.ok((await lstatOrUndefined(join(dir, "dangling")))?.isSymbolicLink());
  });

  it("lstatOrUndefined: undefined for a missing path or a parent that is a file", async () => {
    assert.equal(await lstatOrUndefined(join(dir, "missing")), undefined);
    assert.equal(await lstatOrUndefined(join(dir, "missing", "deeper")), undefined);
    assert.equal(await lstatOrUndefined(join(dir, "file", "below")), undefined);
  });

  it("lstatOrUndefined throws any other failure", async () => {
    await assert.rejects(lstatOrUndefined(join(dir, "loop", "x")), { code: "ELOOP" });
  });

  it("pathExists follows links: a dangling or looping one is absent", async () => {
    assert.equal(await pathExists(join(dir, "file")), true);
    assert.equal(await pathExists(join(dir, "sub")), true);
    assert.equal(await pathExists(join(dir, "link")), true);
    assert.equal(await pathExists(join(dir, "dangling")), false);
    assert.equal(await pathExists(join(dir, "loop")), false);
    assert.equal(await pathExists(join(dir, "missing")), false);
    assert.equal(await pathExists(join(dir, "file", "below")), false);
  });
});
