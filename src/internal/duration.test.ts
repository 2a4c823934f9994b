import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDurationSetting, MAX_DURATION_MS, parseDuration } from "./duration.js";
import { Code, ShimError } from "./shim-error.js";

describe("durations", () => {
  it("reads a number with a unit, seconds without one", () => {
    assert.equal(parseDuration("30s", "x"), 30_000);
    assert.equal(parseDuration("2m", "x"), 120_000);
    assert.equal(parseDuration("1500ms", "x"), 1500);
    assert.equal(parseDuration("0.5s", "x"), 500);
    assert.equal(parseDuration(" 90 ", "x"), 90_000);
    assert.equal(parseDuration("1H", "x"), 3_600_000);
    assert.equal(parseDuration("0", "x"), 0);
  });

  it("refuses anything else, and more than a day, naming the setting", () => {
    for (const bad of ["", "soon", "-3", "3 weeks", "1e3", "30 s s", "0x10"]) {
      assert.throws(
        () => parseDuration(bad, "NODEWASI_REGISTRY_TIMEOUT"),
        (e: unknown) =>
          e instanceof ShimError &&
          e.code === Code.InvalidArgument &&
          /^NODEWASI_REGISTRY_TIMEOUT: /.test(e.rawMessage),
        bad,
      );
    }
    assert.equal(parseDuration("24h", "x"), MAX_DURATION_MS);
    assert.throws(() => parseDuration("25h", "x"), /longer than a day/);
  });

  it("prints a setting in the largest unit that holds it exactly", () => {
    assert.equal(formatDurationSetting(30_000), "30s");
    assert.equal(formatDurationSetting(120_000), "2m");
    assert.equal(formatDurationSetting(1500), "1500ms");
    assert.equal(formatDurationSetting(7_200_000), "2h");
    assert.equal(formatDurationSetting(0), "0s");
    for (const ms of [1, 999, 1000, 61_000, 3_600_000]) {
      assert.equal(parseDuration(formatDurationSetting(ms), "x"), ms);
    }
  });
});
