import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fifoLogger } from "./shim-serve.js";

describe("fifoLogger", () => {
  test("writes each line to the bundle's log FIFO stamped with the time, as containerd's lines are", async () => {
    const bundle = await mkdtemp(join(tmpdir(), "nodewasi-fifolog-"));
    const path = join(bundle, "log");
    execFileSync("mkfifo", [path]);
    // containerd holds the FIFO open for reading, so the logger's non-blocking open finds a reader.
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const log = fifoLogger(bundle, true);
    try {
      const before = Date.now();
      log.logger.info("serving ns/id");
      let text = "";
      const buf = Buffer.alloc(4096);
      for (let i = 0; i < 100 && !text.includes("\n"); i++) {
        await new Promise((r) => setTimeout(r, 10));
        try {
          text += buf.toString("utf8", 0, readSync(reader, buf));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
        }
      }
      const m = /^time="([^"]+)" nodewasi-shim\[\d+\]: serving ns\/id\n$/.exec(text);
      assert.ok(m, text);
      const at = Date.parse(m[1]!);
      assert.ok(at >= before - 1 && at <= Date.now(), m[1]);
    } finally {
      log.close();
      closeSync(reader);
      await rm(bundle, { recursive: true, force: true });
    }
  });
});
