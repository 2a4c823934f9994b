import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { executableOnPath, lstatOrUndefined, pathExists } from "./fs.js";

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

  it("executableOnPath: the first executable regular file, in absolute directories only", async () => {
    const d = (n: string) => join(dir, "path", n);
    for (const n of ["plain", "folder", "tool", "later"]) await mkdir(d(n), { recursive: true });
    await writeFile(join(d("plain"), "tool"), "#!/bin/sh\n"); // not executable
    await mkdir(join(d("folder"), "tool")); // executable bit, but a directory
    for (const n of ["tool", "later"]) {
      await writeFile(join(d(n), "tool"), "#!/bin/sh\n");
      await chmod(join(d(n), "tool"), 0o755);
    }
    const path = ["", "relative/dir", d("missing"), d("plain"), d("folder"), d("tool"), d("later")].join(":");
    assert.equal(executableOnPath("tool", path), join(d("tool"), "tool"));
    assert.equal(executableOnPath("tool", `${d("plain")}:${d("folder")}`), undefined);
    assert.equal(executableOnPath("absent", path), undefined);
    // A relative entry is skipped even when it holds the program.
    const cwd = process.cwd();
    process.chdir(d("tool"));
    try {
      assert.equal(executableOnPath("tool", `.::${d("later")}`), join(d("later"), "tool"));
    } finally {
      process.chdir(cwd);
    }
  });
});
