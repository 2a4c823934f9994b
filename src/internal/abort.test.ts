import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { anySignal, sleep, throwIfAborted } from "./abort.js";

describe("abort helpers", () => {
  it("sleep resolves, or rejects with AbortError when its signal aborts first", async () => {
    await sleep(1);
    const ac = new AbortController();
    const sleeping = sleep(60_000, ac.signal);
    ac.abort();
    await assert.rejects(sleeping, { name: "AbortError" });
    await assert.rejects(sleep(1, AbortSignal.abort()), { name: "AbortError" });
  });

  it("throwIfAborted throws the signal's reason, and nothing without a signal", () => {
    throwIfAborted(undefined);
    throwIfAborted(new AbortController().signal);
    const reason = new Error("stop");
    assert.throws(
      () => throwIfAborted(AbortSignal.abort(reason)),
      (e) => e === reason,
    );
  });

  it("anySignal aborts with the reason of whichever signal aborts, ignoring undefined ones", () => {
    const a = new AbortController();
    const b = new AbortController();
    const any = anySignal(a.signal, undefined, b.signal);
    assert.equal(any.aborted, false);
    const reason = new Error("b went");
    b.abort(reason);
    assert.equal(any.aborted, true);
    assert.equal(any.reason, reason);
  });

  it("anySignal of one signal is that signal; of none, one that never aborts", () => {
    const a = new AbortController();
    assert.equal(anySignal(undefined, a.signal), a.signal);
    assert.equal(anySignal().aborted, false);
    assert.equal(anySignal(undefined).aborted, false);
  });
});
