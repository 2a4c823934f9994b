import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../../test/harness/index.js";
import { isMountPoint, mountsBelow } from "./mount-info.js";
import { bindMounts, sharedBindOnItself, unmountAll, unmountBelow } from "./mount-ops.js";
import { Code, type ShimError } from "./shim-error.js";

const skip = process.getuid?.() === 0 ? false : "mounting needs root";
const tmp = tempDir("nodewasi-mounts-");
after(async () => {
  await unmountBelow(tmp.dir);
  tmp.remove();
});

describe("bindMounts, unmountBelow", { skip }, () => {
  it("binds several paths in one call, names with spaces and backslashes too; ro stays read-only, rbind carries submounts", async () => {
    const src = join(tmp.dir, "a dir\\with\tsigns");
    const inner = join(src, "inner");
    const sub = join(tmp.dir, "sub");
    const dst = join(tmp.dir, "slot");
    for (const d of [inner, sub, join(dst, "tree")]) mkdirSync(d, { recursive: true });
    writeFileSync(join(sub, "deep.txt"), "deep\n");
    writeFileSync(join(tmp.dir, "module"), "module\n");
    writeFileSync(join(dst, "module"), "");
    await bindMounts([{ source: sub, target: inner }], join(tmp.dir, "inner.fstab"));
    await bindMounts(
      [
        { source: src, target: join(dst, "tree"), recursive: true },
        { source: join(tmp.dir, "module"), target: join(dst, "module"), readOnly: true },
      ],
      join(tmp.dir, "slot.fstab"),
    );
    assert.equal(readFileSync(join(dst, "tree", "inner", "deep.txt"), "utf8"), "deep\n");
    assert.equal(readFileSync(join(dst, "module"), "utf8"), "module\n");
    assert.throws(() => writeFileSync(join(dst, "module"), "changed"), { code: "EROFS" });
    assert.ok(mountsBelow(dst).length >= 3);
    await unmountBelow(dst);
    assert.deepEqual(mountsBelow(dst), []);
    assert.equal(readFileSync(join(dst, "module"), "utf8"), "", "the target file again");
    await unmountAll(inner);
  });

  it("a bind of a missing source fails with Internal naming it, and leaves what it made for unmountBelow", async () => {
    const dst = join(tmp.dir, "half");
    mkdirSync(join(dst, "one"), { recursive: true });
    mkdirSync(join(dst, "two"));
    const missing = join(tmp.dir, "missing");
    await assert.rejects(
      bindMounts(
        [
          { source: tmp.dir, target: join(dst, "one") },
          { source: missing, target: join(dst, "two") },
        ],
        join(tmp.dir, "half.fstab"),
      ),
      (err: ShimError) => err.code === Code.Internal && err.message.includes(missing),
    );
    await unmountBelow(dst);
    assert.deepEqual(mountsBelow(dst), []);
  });

  it("sharedBindOnItself makes a shared mount point that unmountAll undoes", async () => {
    const dir = join(tmp.dir, "room");
    mkdirSync(dir);
    await sharedBindOnItself(dir);
    assert.ok(isMountPoint(dir));
    await unmountAll(dir);
    assert.equal(isMountPoint(dir), false);
  });
});
