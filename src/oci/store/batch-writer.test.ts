import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { mountSkipReason, mountTmpfs, unmount } from "../../../test/harness/tmpfs.js";
import { BatchWriter } from "./batch-writer.js";

describe("BatchWriter", { skip: !existsSync("/dev/full") && "no /dev/full here" }, () => {
  it("a write failing while the caller waits elsewhere is no unhandled rejection; flush reports it", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const fh = await open("/dev/full", "w"); // every write fails with ENOSPC, as on a full disk
    try {
      const out = new BatchWriter(fh);
      await out.write(Buffer.alloc(2 << 20)); // a full batch: its write starts and fails in the background
      await new Promise((r) => setTimeout(r, 100)); // the caller waits on its source meanwhile
      assert.deepEqual(unhandled, [], "the failed write surfaced as an unhandled rejection");
      await assert.rejects(out.flush(), { code: "ENOSPC" });
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await fh.close();
    }
  });
});

describe("BatchWriter on a disk that fills up", { skip: mountSkipReason() }, () => {
  it("a short write is no success: flush fails with ENOSPC and the file holds a prefix of what was given", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodewasi-batch-"));
    mountTmpfs(dir, "size=64k");
    try {
      const fh = await open(join(dir, "data"), "a");
      const given = Buffer.alloc(200_000, 7);
      try {
        const out = new BatchWriter(fh);
        await out.write(given.subarray(0, 100_000));
        await out.write(given.subarray(100_000));
        await assert.rejects(out.flush(), { code: "ENOSPC" });
      } finally {
        await fh.close();
      }
      const written = await readFile(join(dir, "data"));
      assert.ok(written.length < given.length);
      assert.deepEqual(written, given.subarray(0, written.length));
    } finally {
      unmount(dir);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
