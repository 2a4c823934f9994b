import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
});
