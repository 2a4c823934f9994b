import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ShimError } from "../../internal/index.js";
import { DEFAULT_UNPACK_LIMITS, InflationGuard, unpackLimitsFrom } from "./unpack-limits.js";

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

const refusal = (f: () => void): ShimError => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ShimError);
    return err;
  }
  assert.fail("no refusal");
};

describe("InflationGuard", () => {
  it("names the limit it enforces and the setting that raises it", () => {
    const limits = {
      ...DEFAULT_UNPACK_LIMITS,
      maxBytes: 1000,
      maxEntries: 0,
      ratioFloorBytes: 10,
      maxRatio: 5,
    };
    const size = refusal(() => new InflationGuard(limits, "layer sha256:ab of x", false).output(2000));
    const guard = new InflationGuard({ ...limits, maxBytes: 1 << 20 }, "layer sha256:cd of x", true);
    guard.input(10);
    const ratio = refusal(() => guard.output(100));
    for (const [e, what, env] of [
      [size, /layer sha256:ab of x: more than 1000 bytes after decompression/, "NODEWASI_UNPACK_MAX_BYTES"],
      [
        ratio,
        /layer sha256:cd of x: 10 compressed bytes inflated to more than 100 \(ratio above 5:1\)/,
        "NODEWASI_UNPACK_MAX_RATIO",
      ],
    ] as const) {
      assert.equal(e.code, Code.InvalidArgument);
      assert.match(e.rawMessage, what);
      assert.ok(
        e.rawMessage.includes(
          `refused by nodewasi's unpack limits, which stop decompression bombs; set ${env} higher where the pull runs`,
        ),
        e.rawMessage,
      );
    }
  });
});
