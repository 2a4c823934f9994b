import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { open } from "node:fs/promises";
import { describe, it } from "node:test";
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
