import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ShimError } from "../internal/index.js";
import { DEFAULT_UNPACK_LIMITS, InflationGuard } from "./unpack-limits.js";

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
  it("names the limit it enforces and no setting that does not exist", () => {
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
    for (const [e, what] of [
      [size, /layer sha256:ab of x: more than 1000 bytes after decompression/],
      [ratio, /layer sha256:cd of x: 10 compressed bytes inflated to more than 100 \(ratio above 5:1\)/],
    ] as const) {
      assert.equal(e.code, Code.InvalidArgument);
      assert.match(e.rawMessage, what);
      assert.match(e.rawMessage, /refused by nodewasi's unpack limits, which stop decompression bombs$/);
      assert.doesNotMatch(e.rawMessage, /raise/);
    }
  });
});
