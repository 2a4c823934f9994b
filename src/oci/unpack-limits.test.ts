import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ShimError } from "../internal/index.js";
import { DEFAULT_UNPACK_LIMITS, unpackLimitsFrom } from "./unpack-limits.js";

describe("unpackLimitsFrom", () => {
  it("keeps the defaults when nothing is set", () => {
    assert.deepEqual(unpackLimitsFrom({}), DEFAULT_UNPACK_LIMITS);
    assert.deepEqual(unpackLimitsFrom({ NODEWASI_UNPACK_MAX_ENTRIES: " " }), DEFAULT_UNPACK_LIMITS);
  });

  it("reads entries, bytes (with k, m, g) and the ratio from the environment", () => {
    const l = unpackLimitsFrom({
      NODEWASI_UNPACK_MAX_ENTRIES: "500000",
      NODEWASI_UNPACK_MAX_BYTES: "8g",
      NODEWASI_UNPACK_MAX_RATIO: "1000",
    });
    assert.equal(l.maxEntries, 500_000);
    assert.equal(l.maxBytes, 8 * 1024 ** 3);
    assert.equal(l.maxRatio, 1000);
    assert.equal(l.ratioFloorBytes, DEFAULT_UNPACK_LIMITS.ratioFloorBytes);
  });

  it("refuses a value that is not a positive number, naming the variable", () => {
    for (const [name, value] of [
      ["NODEWASI_UNPACK_MAX_ENTRIES", "lots"],
      ["NODEWASI_UNPACK_MAX_ENTRIES", "0"],
      ["NODEWASI_UNPACK_MAX_ENTRIES", "1e6"],
      ["NODEWASI_UNPACK_MAX_BYTES", "-1"],
      ["NODEWASI_UNPACK_MAX_RATIO", "2.5"],
    ] as const) {
      assert.throws(
        () => unpackLimitsFrom({ [name]: value }),
        (err: unknown) =>
          err instanceof ShimError &&
          err.code === Code.FailedPrecondition &&
          err.message.includes(`${name}=${value}: not a positive`),
      );
    }
  });
});
