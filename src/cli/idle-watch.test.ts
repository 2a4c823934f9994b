import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdleWatch } from "./idle-watch.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("IdleWatch", () => {
  it("fires once after the timeout with no call and no busy task, not before", async () => {
    let busy = true;
    let fired = 0;
    const watch = new IdleWatch({ timeoutMs: 60, pollMs: 10, busy: () => busy, onIdle: () => fired++ });
    const done = watch.enter();
    busy = false;
    await sleep(120);
    assert.equal(fired, 0, "a call in flight keeps it up");
    done();
    await sleep(30);
    assert.equal(fired, 0, "the timeout counts from the end of the last call");
    await sleep(120);
    assert.equal(fired, 1);
    await sleep(80);
    assert.equal(fired, 1, "only once");
  });

  it("never fires with a timeout of 0", async () => {
    const watch = new IdleWatch({ timeoutMs: 0, busy: () => false, onIdle: () => assert.fail("fired") });
    await sleep(30);
    watch.stop();
  });
});
