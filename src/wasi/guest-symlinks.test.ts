import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { specFor, tempDir } from "../../test/harness/index.js";
import { ChildRunner } from "./child-runner.js";
import { climbsOut, movesClimbingLink } from "./guest-symlinks.js";

const tmp = tempDir("nodewasi-symlinks-");
let runner: ChildRunner;
before(() => {
  runner = new ChildRunner({ isolation: "none", pool: 0 });
});
after(async () => {
  await runner.close();
  tmp.remove();
});

let runs = 0;
/** Runs escape-probe with `rootfs` preopened as `/` and returns the lines it printed. */
async function probe(rootfs: string, args: string[]): Promise<string[]> {
  const out = join(tmp.dir, `out-${runs++}`);
  const p = await runner.start({
    ...specFor("escape-probe", args, { preopens: { "/": rootfs } }),
    stdout: { kind: "file", path: out },
  });
  assert.equal((await p.exited).code, 0);
  return readFileSync(out, "utf8").trim().split("\n");
}

describe("climbsOut", () => {
  it("refuses absolute targets and any .. component, keeps links within a directory", () => {
    for (const t of ["/etc", "..", "../x", "a/../../b", "a/..", "/"]) assert.equal(climbsOut(t), true, t);
    for (const t of ["x", "lib.so.1", "v2/data", "..x", "a..b/c", "./x"])
      assert.equal(climbsOut(t), false, t);
  });
});

describe("movesClimbingLink", () => {
  it("is true for a climbing link, or a directory holding one, going to another directory; false otherwise", () => {
    const at = (p: string) => join(tmp.dir, "moves", p);
    mkdirSync(at("a/b/c"), { recursive: true });
    mkdirSync(at("plain/sub"), { recursive: true });
    symlinkSync("../..", at("a/b/c/top"));
    symlinkSync("x/y", at("a/b/c/near"));
    symlinkSync("/etc", at("plain/abs"));
    writeFileSync(at("a/file"), "");
    assert.equal(movesClimbingLink(at("a/b/c/top"), at("top")), true, "shallower");
    assert.equal(movesClimbingLink(at("a/b/c/top"), at("plain/sub/top")), true, "another dir, same depth");
    assert.equal(movesClimbingLink(at("plain/abs"), at("a/abs")), true, "an absolute target");
    assert.equal(movesClimbingLink(at("a/b"), at("b")), true, "a directory holding one, two levels down");
    assert.equal(movesClimbingLink(at("a/b/c/top"), at("a/b/c/top2")), false, "within its directory");
    assert.equal(movesClimbingLink(at("a/b/c/near"), at("near")), false, "a link that does not climb");
    assert.equal(movesClimbingLink(at("a/file"), at("file")), false, "a file");
    assert.equal(movesClimbingLink(at("plain/sub"), at("sub")), false, "a directory without climbing links");
    assert.equal(movesClimbingLink(at("missing"), at("m")), false, "left to the call to report");
  });
});

describe("a guest-made symlink cannot lead out of its preopen (node:wasi alone, no bwrap)", () => {
  const rootfs = join(tmp.dir, "rootfs");

  it("symlink ../../../../etc is refused, so /y/hostname reads nothing; a link beside its target works", async () => {
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, "data.txt"), "inside\n");
    const args = ["symlink", "../../../../../../etc", "/y", "read", "/y/hostname"];
    args.push("symlink", "data.txt", "/alias", "read", "/alias");
    assert.deepEqual(await probe(rootfs, args), [
      "symlink ../../../../../../etc /y: Operation not permitted",
      "read /y/hostname: No such file or directory",
      "symlink data.txt /alias: ok",
      "read /alias: ok inside",
    ]);
    assert.throws(() => lstatSync(join(rootfs, "y")), "no link was made");
    assert.ok(lstatSync(join(rootfs, "alias")).isSymbolicLink());
  });
});

describe("an image's `..` symlink cannot be moved or linked to climb out (node:wasi alone, no bwrap)", () => {
  const rootfs = join(tmp.dir, "moved");

  it("rename and link of a deep link (or its directory) elsewhere are refused; a move within its directory works", async () => {
    // 12 levels down, climbing 11: the rootfs itself, harmless there; at the top it would climb 12 levels,
    // past the host's root (the kernel stops there), so /top/etc/hostname would be the host's.
    const deep = Array.from({ length: 12 }, (_, i) => `d${i}`).join("/");
    mkdirSync(join(rootfs, deep), { recursive: true });
    symlinkSync(`${"../".repeat(11)}..`, join(rootfs, deep, "top"));
    writeFileSync(join(rootfs, "in.txt"), "inside\n");
    writeFileSync(join(tmp.dir, "beside.txt"), "beside the rootfs\n");
    // Moved one level up with its directory, it would climb to the rootfs's parent, where beside.txt is.
    const rest = deep.split("/").slice(2).join("/");
    const steps = [
      ["read", `/${deep}/top/in.txt`],
      ["rename", `/${deep}/top`, "/top"],
      ["read", "/top/etc/hostname"],
      ["link", `/${deep}/top`, "/hard"],
      ["read", "/hard/etc/hostname"],
      ["rename", "/d0/d1", "/d1"],
      ["read", `/d1/${rest}/top/beside.txt`],
      ["rename", `/${deep}/top`, `/${deep}/moved`],
      ["read", `/${deep}/moved/in.txt`],
      ["rename", "/in.txt", "/d0/in.txt"],
      ["read", "/d0/in.txt"],
      // The same rules relative to a directory the guest opened (renameat on its fd).
      ["renameat", "/d0", "in.txt", "in2.txt"],
      ["read", "/d0/in2.txt"],
      ["renameat", "/d0/d1", "d2/d3", "d3"],
    ];
    assert.deepEqual(await probe(rootfs, steps.flat()), [
      `read /${deep}/top/in.txt: ok inside`,
      `rename /${deep}/top /top: Operation not permitted`,
      "read /top/etc/hostname: No such file or directory",
      `link /${deep}/top /hard: Operation not permitted`,
      "read /hard/etc/hostname: No such file or directory",
      "rename /d0/d1 /d1: Operation not permitted",
      `read /d1/${rest}/top/beside.txt: No such file or directory`,
      `rename /${deep}/top /${deep}/moved: ok`,
      `read /${deep}/moved/in.txt: ok inside`,
      "rename /in.txt /d0/in.txt: ok",
      "read /d0/in.txt: ok inside",
      "renameat /d0 in.txt in2.txt: ok",
      "read /d0/in2.txt: ok inside",
      "renameat /d0/d1 d2/d3 d3: Operation not permitted",
    ]);
    assert.equal(readlinkSync(join(rootfs, deep, "moved")), `${"../".repeat(11)}..`);
  });

  it("an O_NOFOLLOW open of a link that leads out is followed inside the preopen, not on the host", async () => {
    // As a containerd snapshot may hold it (nodewasi's unpacker would refuse it): at the rootfs top, leading
    // to a file beside the rootfs. uvwasi passes no O_NOFOLLOW, so the kernel used to follow it from where it is.
    const dir = join(tmp.dir, "nofollow");
    mkdirSync(join(dir, "rootfs"), { recursive: true });
    writeFileSync(join(dir, "outside.txt"), "beside the rootfs\n");
    symlinkSync("../outside.txt", join(dir, "rootfs", "esc"));
    assert.deepEqual(await probe(join(dir, "rootfs"), ["readnofollow", "/esc", "read", "/esc"]), [
      "readnofollow /esc: No such file or directory",
      "read /esc: No such file or directory",
    ]);
  });
});
