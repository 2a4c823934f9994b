import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { IdleWatch } from "./idle-watch.js";

/** Mocked time (the watch's interval and Date.now), so that a busy machine cannot change what is seen. */
function clock(t: TestContext): (ms: number) => void {
  t.mock.timers.enable({ apis: ["setInterval", "Date"] });
  return (ms) => t.mock.timers.tick(ms);
}

describe("IdleWatch", () => {
  it("fires once after the timeout with no call and no busy task, not before", (t) => {
    const tick = clock(t);
    let busy = true;
    let fired = 0;
    const watch = new IdleWatch({ timeoutMs: 60, pollMs: 10, busy: () => busy, onIdle: () => fired++ });
    watch.start();
    const done = watch.enter();
    busy = false;
    tick(120);
    assert.equal(fired, 0, "a call in flight keeps it up");
    done();
    tick(50);
    assert.equal(fired, 0, "the timeout counts from the end of the last call");
    tick(10);
    assert.equal(fired, 1);
    tick(200);
    assert.equal(fired, 1, "only once");
  });

  it("a busy task keeps it up; the timeout counts from when it stopped being busy", (t) => {
    const tick = clock(t);
    let busy = true;
    let fired = 0;
    new IdleWatch({ timeoutMs: 60, pollMs: 10, busy: () => busy, onIdle: () => fired++ }).start();
    tick(500);
    assert.equal(fired, 0);
    busy = false;
    tick(50);
    assert.equal(fired, 0);
    tick(20);
    assert.equal(fired, 1);
  });

  it("counts from start(), not from its construction: a shim slow to bind its socket is not idle yet", (t) => {
    const tick = clock(t);
    let fired = 0;
    const watch = new IdleWatch({ timeoutMs: 1000, busy: () => false, onIdle: () => fired++ });
    tick(5000);
    assert.equal(fired, 0, "not started: never fires");
    watch.start();
    tick(900);
    assert.equal(fired, 0);
    tick(200);
    assert.equal(fired, 1);
  });

  it("never fires with a timeout of 0", (t) => {
    const tick = clock(t);
    const watch = new IdleWatch({ timeoutMs: 0, busy: () => false, onIdle: () => assert.fail("fired") });
    watch.start();
    tick(60_000);
    watch.stop();
  });
});
