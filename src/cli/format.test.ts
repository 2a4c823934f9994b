import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatBytes, formatDuration, formatRate, formatTable, plural, shortDigest } from "./format.js";

describe("formatBytes", () => {
  it("prints bytes below 1 KiB exactly", () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(1), "1 B");
    assert.equal(formatBytes(1023), "1023 B");
  });

  it("uses binary units with one decimal below 100", () => {
    assert.equal(formatBytes(1024), "1.0 KiB");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(1.2 * 1024 * 1024), "1.2 MiB");
    assert.equal(formatBytes(15 * 1024 ** 3), "15.0 GiB");
  });

  it("drops the decimal from 100 of a unit", () => {
    assert.equal(formatBytes(123 * 1024 * 1024), "123 MiB");
  });

  it("carries into the next unit instead of printing 1024.0", () => {
    assert.equal(formatBytes(1024 * 1024 - 1), "1.0 MiB");
  });

  it("prints ? for nonsense", () => {
    assert.equal(formatBytes(-1), "?");
    assert.equal(formatBytes(Number.NaN), "?");
  });

  it("never prints a number of 1024 or more with a unit", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const [num, unit] = formatBytes(n).split(" ");
        assert.ok(Number(num) < 1024, `${n} -> ${num} ${unit}`);
        assert.notEqual(unit, "B");
      }),
    );
  });
});

describe("formatRate", () => {
  it("appends /s", () => assert.equal(formatRate(2 * 1024 * 1024), "2.0 MiB/s"));
});

describe("formatDuration", () => {
  it("keeps milliseconds below a second", () => assert.equal(formatDuration(850), "850ms"));
  it("prints seconds with one decimal", () => assert.equal(formatDuration(1234), "1.2s"));
  it("prints minutes and seconds", () => assert.equal(formatDuration(65_000), "1m05s"));
  it("rounds 59.96s up to a minute", () => assert.equal(formatDuration(59_960), "1m00s"));
  it("prints hours and minutes", () => assert.equal(formatDuration(3_720_000), "1h02m"));
  it("prints ? for nonsense", () => assert.equal(formatDuration(-5), "?"));
});

describe("shortDigest", () => {
  const d = `sha256:${"0123456789abcdef".repeat(4)}`;
  it("keeps 12 hex characters by default", () => assert.equal(shortDigest(d), "0123456789ab"));
  it("keeps the algorithm on request", () =>
    assert.equal(shortDigest(d, { algorithm: true, length: 8 }), "sha256:01234567"));
  it("shortens a bare hex string", () => assert.equal(shortDigest("abcdef", { length: 3 }), "abc"));
});

describe("formatTable", () => {
  it("aligns columns and leaves no trailing blanks", () => {
    const out = formatTable(
      ["NAME", "SIZE"],
      [
        ["a", "1 B"],
        ["longer-name", "22 KiB"],
      ],
    );
    assert.equal(out, "NAME          SIZE\na             1 B\nlonger-name   22 KiB\n");
  });

  it("prints just the header for no rows", () => {
    assert.equal(formatTable(["A", "B"], []), "A   B\n");
  });

  it("does not pad an empty last cell", () => {
    assert.equal(formatTable(["A", "B"], [["x", ""]]), "A   B\nx\n");
  });
});

describe("plural", () => {
  it("agrees in number", () => {
    assert.equal(plural(1, "blob"), "1 blob");
    assert.equal(plural(0, "blob"), "0 blobs");
    assert.equal(plural(3, "blob"), "3 blobs");
  });
});
