import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { findBwrap, findBwrapAsync } from "./sandbox.js";

// A file of its own: the probe's answer is kept per process, and this test needs a process that has none yet.
describe("findBwrapAsync", () => {
  it("probes once without blocking, and findBwrap answers from it afterwards", async () => {
    const usable = spawnSync("bwrap", ["--unshare-user-try", "--ro-bind", "/", "/", "true"]).status === 0;
    const [a, b] = await Promise.all([findBwrapAsync(), findBwrapAsync()]);
    assert.equal(a, b);
    if (usable) assert.match(a ?? "", /\/bwrap$/);
    else assert.equal(a, undefined);
    // With no PATH a new probe would find nothing: the answer must come from the one already made.
    const path = process.env.PATH;
    process.env.PATH = "";
    try {
      assert.equal(findBwrap(), a);
      assert.equal(await findBwrapAsync(), a);
    } finally {
      process.env.PATH = path;
    }
  });
});
