import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ChildRunner } from "./child-runner.js";
import { climbsOut } from "./guest-symlinks.js";
import { specFor, tempDir } from "./runner-testing.js";

describe("climbsOut", () => {
  it("refuses absolute targets and any .. component, keeps links within a directory", () => {
    for (const t of ["/etc", "..", "../x", "a/../../b", "a/..", "/"]) assert.equal(climbsOut(t), true, t);
    for (const t of ["x", "lib.so.1", "v2/data", "..x", "a..b/c", "./x"])
      assert.equal(climbsOut(t), false, t);
  });
});

describe("a guest-made symlink cannot lead out of its preopen (node:wasi alone, no bwrap)", () => {
  const tmp = tempDir("nodewasi-symlinks-");
  const rootfs = join(tmp.dir, "rootfs");
  let runner: ChildRunner;
  before(() => {
    runner = new ChildRunner({ isolation: "none", pool: 0 });
  });
  after(async () => {
    await runner.close();
    tmp.remove();
  });

  it("symlink ../../../../etc is refused, so /y/hostname reads nothing; a link beside its target works", async () => {
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, "data.txt"), "inside\n");
    const out = join(tmp.dir, "out");
    const args = ["symlink", "../../../../../../etc", "/y", "read", "/y/hostname"];
    args.push("symlink", "data.txt", "/alias", "read", "/alias");
    const p = await runner.start({
      ...specFor("escape-probe", args, { preopens: { "/": rootfs } }),
      stdout: { kind: "file", path: out },
    });
    assert.equal((await p.exited).code, 0);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    assert.deepEqual(lines, [
      "symlink ../../../../../../etc /y: Operation not permitted",
      "read /y/hostname: No such file or directory",
      "symlink data.txt /alias: ok",
      "read /alias: ok inside",
    ]);
    assert.throws(() => lstatSync(join(rootfs, "y")), "no link was made");
    assert.ok(lstatSync(join(rootfs, "alias")).isSymbolicLink());
  });
});
