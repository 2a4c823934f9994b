import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  backoffMs,
  DEFAULT_RETRY,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  triesAgain,
} from "./retry.js";

describe("retry policy", () => {
  it("retries 408, 429 and 500/502/503/504 only", () => {
    for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(isRetryableStatus(s), true, String(s));
    for (const s of [200, 400, 401, 403, 404, 413, 501, 505])
      assert.equal(isRetryableStatus(s), false, String(s));
  });

  it("backoff is full jitter under an exponential ceiling, capped at maxMs", () => {
    const o = { attempts: 5, baseMs: 100, maxMs: 1000 };
    assert.equal(
      backoffMs(1, o, () => 0.999999),
      99,
    );
    assert.equal(
      backoffMs(3, o, () => 0.999999),
      399,
    );
    assert.equal(
      backoffMs(10, o, () => 0.999999),
      999,
    );
    assert.equal(
      backoffMs(4, o, () => 0),
      0,
    );
    for (let i = 1; i < 20; i++) assert.ok(backoffMs(i, DEFAULT_RETRY) <= DEFAULT_RETRY.maxMs);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    assert.equal(parseRetryAfter("3"), 3000);
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", now), 10_000);
    assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon"), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it("recognises connection faults through the cause chain", () => {
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    assert.equal(isRetryableError(reset), true);
    assert.equal(isRetryableError(new Error("wrapped", { cause: reset })), true);
    assert.equal(isRetryableError(Object.assign(new Error("x"), { code: "UND_ERR_SOCKET" })), true);
    assert.equal(isRetryableError(Object.assign(new Error("x"), { code: "ENOTFOUND" })), false);
    assert.equal(isRetryableError("ECONNRESET"), false);
  });

  it("a stalled request gets stallAttempts tries, other connection faults get all of them", () => {
    const stall = Object.assign(new Error("Headers Timeout Error"), { code: "UND_ERR_HEADERS_TIMEOUT" });
    const reset = Object.assign(new Error("other side closed"), { code: "ECONNRESET" });
    assert.equal(triesAgain(stall, 1, 1, DEFAULT_RETRY), true);
    assert.equal(triesAgain(stall, 2, 2, DEFAULT_RETRY), false);
    assert.equal(
      triesAgain(reset, 2, 1, DEFAULT_RETRY),
      true,
      "an earlier stall does not count against a reset",
    );
    assert.equal(triesAgain(reset, 4, 0, DEFAULT_RETRY), true);
    assert.equal(triesAgain(reset, 5, 0, DEFAULT_RETRY), false);
    assert.equal(triesAgain(new Error("not a connection fault"), 1, 0, DEFAULT_RETRY), false);
  });
});
