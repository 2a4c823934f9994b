import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, redact } from "./log.js";

function capture(opts: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  return { lines, log: createLogger({ ...opts, write: (l) => lines.push(l) }) };
}

describe("logger", () => {
  it("writes warnings and errors by default, not info or debug", () => {
    const { lines, log } = capture();
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    assert.deepEqual(lines, ["warn: w\n", "error: e\n"]);
  });

  it("writes every level at debug; info lines carry no level", () => {
    const { lines, log } = capture({ level: "debug", name: "nodewasi" });
    log.debug("d");
    log.info("i");
    assert.deepEqual(lines, ["nodewasi: debug: d\n", "nodewasi: i\n"]);
  });

  it("appends fields as JSON, and nothing for no fields", () => {
    const { lines, log } = capture({ level: "info" });
    log.info("pulled", { digest: "sha256:x", size: 3 });
    log.info("plain", {});
    assert.deepEqual(lines, ['pulled {"digest":"sha256:x","size":3}\n', "plain\n"]);
  });

  it("redacts a secret to a fixed marker, and nothing to nothing", () => {
    assert.equal(redact("hunter2"), "<redacted>");
    assert.equal(redact(""), "");
    assert.equal(redact(undefined), "");
  });
});
