import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { mountSkipReason, mountTmpfs, unmount } from "../../test/harness/tmpfs.js";
import { isMountPoint, type MountEntry, mountsBelow, overlayLowerDirs, readMountInfo } from "./mount-info.js";

function entry(mountPoint: string, over: Partial<MountEntry> = {}): MountEntry {
  return { mountPoint, root: "/", fsType: "ext4", shared: false, superOptions: ["rw"], ...over };
}

describe("mount info", () => {
  it("reads this process's mount table: / and /proc are in it", () => {
    const table = readMountInfo();
    assert.ok(table.some((e) => e.mountPoint === "/"));
    assert.ok(table.some((e) => e.mountPoint === "/proc" && e.fsType === "proc"));
    assert.ok(isMountPoint("/proc"));
    assert.ok(isMountPoint("/proc/"));
    assert.equal(isMountPoint("/proc/self/fd/.."), false);
  });

  it("lists the mounts strictly below a folder, deepest first", () => {
    const table = [
      entry("/a"),
      entry("/a/b"),
      entry("/a/b/c/d"),
      entry("/a/bc"),
      entry("/ab"),
      entry("/a/b/c"),
    ];
    assert.deepEqual(mountsBelow("/a/b", table), ["/a/b/c/d", "/a/b/c"]);
    assert.deepEqual(mountsBelow("/z", table), []);
  });

  it("collects every overlay's lower folders, and nothing from other file systems", () => {
    const table = [
      entry("/m1", {
        fsType: "overlay",
        superOptions: ["rw", "lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w"],
      }),
      entry("/m2", { fsType: "overlay", superOptions: ["lowerdir=/l2"] }),
      entry("/m3", { superOptions: ["lowerdir=/not-an-overlay"] }),
    ];
    assert.deepEqual([...overlayLowerDirs(table)].sort(), ["/l1", "/l2"]);
  });

  it("unescapes a mount point with a space and a tab", {
    skip: mountSkipReason(),
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodewasi-mountinfo-"));
    const spaced = join(dir, "a b\tc");
    try {
      await mkdir(spaced);
      mountTmpfs(spaced, "size=64k");
      const found = readMountInfo().filter((e) => e.mountPoint === spaced);
      assert.equal(found.length, 1);
      assert.equal(found[0]!.fsType, "tmpfs");
      assert.deepEqual(mountsBelow(dir), [spaced]);
      assert.ok(isMountPoint(spaced));
      unmount(spaced);
      assert.equal(isMountPoint(spaced), false);
    } finally {
      if (isMountPoint(spaced)) unmount(spaced);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
