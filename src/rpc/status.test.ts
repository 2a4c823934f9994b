import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, notFound, ShimError } from "../internal/index.js";
import { errorToStatus, statusToError } from "./status.js";

describe("errorToStatus", () => {
  it("keeps a ShimError's code and its message without the [code] prefix", () => {
    assert.deepEqual(errorToStatus(notFound("task t1 not found")), {
      code: Code.NotFound,
      message: "task t1 not found",
    });
  });

  it("maps aborts, timeouts and errno errors as ShimError.from does", () => {
    const abort = new DOMException("stopped", "AbortError");
    assert.equal(errorToStatus(abort).code, Code.Canceled);
    assert.equal(errorToStatus(new DOMException("late", "TimeoutError")).code, Code.DeadlineExceeded);
    const enoent = Object.assign(new Error("ENOENT: no such file, open '/x'"), { code: "ENOENT" });
    assert.deepEqual(errorToStatus(enoent), {
      code: Code.NotFound,
      message: "ENOENT: no such file, open '/x'",
    });
  });

  it("reads anything else as Unknown, keeping its text", () => {
    assert.deepEqual(errorToStatus(new TypeError("x is undefined")), {
      code: Code.Unknown,
      message: "x is undefined",
    });
    assert.deepEqual(errorToStatus("boom"), { code: Code.Unknown, message: "boom" });
  });

  it("never sends OK (or a code outside the 16) for an error", () => {
    assert.equal(errorToStatus(new ShimError(Code.OK, "odd")).code, Code.Unknown);
    assert.equal(errorToStatus(new ShimError(99 as Code, "odd")).code, Code.Unknown);
  });
});

describe("statusToError", () => {
  it("round-trips every error code with its message", () => {
    for (let code = Code.Canceled; code <= Code.Unauthenticated; code++) {
      const back = statusToError(errorToStatus(new ShimError(code, `failure ${code}`)));
      assert.ok(back instanceof ShimError);
      assert.equal(back.code, code);
      assert.equal(back.rawMessage, `failure ${code}`);
    }
  });

  it("prefixes the message as ShimError does and keeps the cause", () => {
    const cause = new Error("wire");
    const err = statusToError({ code: 9, message: "task t1 is running" }, cause);
    assert.equal(err.message, "[failed_precondition] task t1 is running");
    assert.equal(err.cause, cause);
  });

  it("reads OK, negative and unknown codes as Unknown", () => {
    for (const code of [0, -1, 17, 2.5])
      assert.equal(statusToError({ code, message: "m" }).code, Code.Unknown);
  });
});
