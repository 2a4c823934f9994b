import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  alreadyExists,
  Code,
  codeName,
  dataLoss,
  failedPrecondition,
  invalidArgument,
  notFound,
  ShimError,
  unimplemented,
} from "./shim-error.js";

/** A Node system error as fs calls throw them. */
function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe("ShimError", () => {
  it("prefixes the message with the code's snake_case name and keeps the raw message", () => {
    const err = new ShimError(Code.DeadlineExceeded, "registry example.com went silent");
    assert.equal(err.message, "[deadline_exceeded] registry example.com went silent");
    assert.equal(err.rawMessage, "registry example.com went silent");
    assert.equal(err.name, "ShimError");
    assert.deepEqual(err.details, {});
    assert.equal(err.temporary, false);
    assert.equal("cause" in err, false);
  });

  it("names every code as gRPC's documentation spells it", () => {
    assert.equal(codeName(Code.NotFound), "not_found");
    assert.equal(codeName(Code.Unauthenticated), "unauthenticated");
    assert.equal(codeName(Code.FailedPrecondition), "failed_precondition");
    assert.equal(codeName(99 as Code), "unknown");
  });

  it("carries cause, details and temporary", () => {
    const cause = new Error("ECONNRESET");
    const err = new ShimError(Code.Unavailable, "x", { cause, details: { status: 503 }, temporary: true });
    assert.equal(err.cause, cause);
    assert.deepEqual(err.details, { status: 503 });
    assert.equal(err.temporary, true);
  });

  it("from() returns a ShimError as it is", () => {
    const err = notFound("image x");
    assert.equal(ShimError.from(err, Code.Internal), err);
  });

  it("from() maps aborts, timeouts and system errors to their codes, keeping the cause", () => {
    const cases: [unknown, Code][] = [
      [new DOMException("stopped", "AbortError"), Code.Canceled],
      [new DOMException("too slow", "TimeoutError"), Code.DeadlineExceeded],
      [errno("ENOENT", "no such file"), Code.NotFound],
      [errno("ENOSPC", "no space left on device"), Code.ResourceExhausted],
      [errno("EACCES", "permission denied"), Code.Unknown],
      [new TypeError("x is undefined"), Code.Unknown],
    ];
    for (const [thrown, code] of cases) {
      const err = ShimError.from(thrown);
      assert.equal(err.code, code, String(thrown));
      assert.equal(err.cause, thrown);
      assert.equal(err.rawMessage, (thrown as Error).message);
    }
  });

  it("from() uses the fallback for what it cannot classify, and stringifies non-errors", () => {
    assert.equal(ShimError.from(errno("EIO", "i/o error"), Code.Internal).code, Code.Internal);
    const err = ShimError.from("a string", Code.Unavailable);
    assert.equal(err.code, Code.Unavailable);
    assert.equal(err.rawMessage, "a string");
  });

  it("the shorthands make errors of their codes", () => {
    const made: [ShimError, Code][] = [
      [invalidArgument("m"), Code.InvalidArgument],
      [notFound("m"), Code.NotFound],
      [failedPrecondition("m"), Code.FailedPrecondition],
      [alreadyExists("m"), Code.AlreadyExists],
      [unimplemented("m"), Code.Unimplemented],
      [dataLoss("m", { temporary: true }), Code.DataLoss],
    ];
    for (const [err, code] of made) assert.equal(err.code, code);
    assert.equal(made[5]![0].temporary, true);
  });
});
