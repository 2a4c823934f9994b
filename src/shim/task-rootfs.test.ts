import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Logger } from "../internal/index.js";
import { writableRootfs } from "./task-rootfs.js";

const dir = mkdtempSync(join(tmpdir(), "nodewasi-task-rootfs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("writableRootfs", () => {
  it("copies the image when an overlay cannot be mounted (no mount(8) here), and warns once", {
    skip: process.getuid?.() === 0 ? false : "overlays are tried as root only",
  }, async () => {
    // Found running the suite on Node 24: the folder made to mount on stayed, and Node 22+'s cp refuses to copy
    // onto an existing folder ("cp returned EEXIST"), so every task of a shim without mount(8) failed to create.
    const imageDir = mkdtempSync(join(dir, "image-"));
    writeFileSync(join(imageDir, "hello.txt"), "hi");
    const bundleDir = mkdtempSync(join(dir, "bundle-"));
    const warnings: string[] = [];
    const path = process.env.PATH;
    process.env.PATH = join(dir, "empty-bin");
    try {
      const log: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
      const r = await writableRootfs(imageDir, bundleDir, log);
      assert.equal(r.how, "copy");
      assert.equal(readFileSync(join(r.rootfs, "hello.txt"), "utf8"), "hi");
      const second = await writableRootfs(imageDir, mkdtempSync(join(dir, "bundle-")));
      assert.equal(second.how, "copy");
    } finally {
      process.env.PATH = path;
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /overlayfs is not usable here/);
  });

  it("a copy shares no inode with the image: what the task writes stays in its copy", async () => {
    // The copy is what a task gets without overlays (not root); a hardlink farm would be cheaper, but a write
    // through a link would change the store's file for every later task of the image.
    const imageDir = mkdtempSync(join(dir, "image-"));
    mkdirSync(join(imageDir, "data"));
    writeFileSync(join(imageDir, "data", "a.txt"), "original\n");
    symlinkSync("data/a.txt", join(imageDir, "a-link"));
    const path = process.env.PATH;
    process.env.PATH = join(dir, "empty-bin"); // as root: no mount(8), so the copy path
    let r: Awaited<ReturnType<typeof writableRootfs>>;
    try {
      r = await writableRootfs(imageDir, mkdtempSync(join(dir, "bundle-")));
    } finally {
      process.env.PATH = path;
    }
    assert.equal(r.how, "copy");
    const image = statSync(join(imageDir, "data", "a.txt"));
    const copied = statSync(join(r.rootfs, "data", "a.txt"));
    assert.notEqual(copied.ino, image.ino);
    assert.equal(image.nlink, 1);
    assert.equal(readlinkSync(join(r.rootfs, "a-link")), "data/a.txt");
    appendFileSync(join(r.rootfs, "data", "a.txt"), "written by the task\n");
    assert.equal(readFileSync(join(imageDir, "data", "a.txt"), "utf8"), "original\n");
    assert.equal(readFileSync(join(r.rootfs, "a-link"), "utf8"), "original\nwritten by the task\n");
  });
});
