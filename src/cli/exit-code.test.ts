import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ShimError } from "../internal/index.js";
import { ExitCode, exitCodeFor } from "./exit-code.js";

describe("exitCodeFor", () => {
  const cases: [Code, number][] = [
    [Code.InvalidArgument, ExitCode.Usage],
    [Code.NotFound, ExitCode.NotFound],
    [Code.Unauthenticated, ExitCode.Auth],
    [Code.PermissionDenied, ExitCode.Auth],
    [Code.Unavailable, ExitCode.Unavailable],
    [Code.DeadlineExceeded, ExitCode.Unavailable],
    [Code.DataLoss, ExitCode.DataLoss],
    [Code.Canceled, ExitCode.Interrupted],
    [Code.FailedPrecondition, ExitCode.General],
    [Code.Internal, ExitCode.General],
  ];
  for (const [code, exit] of cases) {
    it(`maps ${Code[code]} to ${exit}`, () => assert.equal(exitCodeFor(new ShimError(code, "x")), exit));
  }

  it("treats an AbortError as an interruption", () => {
    const abort = new Error("aborted");
    abort.name = "AbortError";
    assert.equal(exitCodeFor(abort), 130);
  });

  it("maps ENOENT from the file system to not found", () => {
    const err = Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    assert.equal(exitCodeFor(err), 3);
  });

  it("gives 1 for anything else", () => assert.equal(exitCodeFor("a string"), 1));
});
