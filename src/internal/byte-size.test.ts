import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseByteSize } from "./byte-size.js";

describe("parseByteSize", () => {
  it("reads plain bytes and binary units, as Docker reads --memory", () => {
    assert.equal(parseByteSize("65536"), 65536);
    assert.equal(parseByteSize("512k"), 512 * 1024);
    assert.equal(parseByteSize("64M"), 64 * 1024 ** 2);
    assert.equal(parseByteSize("2MiB"), 2 * 1024 ** 2);
    assert.equal(parseByteSize("2mb"), 2 * 1024 ** 2);
    assert.equal(parseByteSize("1t"), 1024 ** 4);
    assert.equal(parseByteSize("10b"), 10);
    assert.equal(parseByteSize(" 3 k "), 3 * 1024);
    assert.equal(parseByteSize("0"), 0);
  });

  it("rounds a fraction down to whole bytes", () => {
    assert.equal(parseByteSize("1.5g"), 1.5 * 1024 ** 3);
    assert.equal(parseByteSize("1.7"), 1);
    assert.equal(parseByteSize("0.1k"), 102);
  });

  it("names no size for anything else, or for more than a safe integer", () => {
    for (const bad of ["", "k", "-1", "1x", "1kk", "1e3", "0x10", "1 2", "1.k", ".5k", "1p"]) {
      assert.equal(parseByteSize(bad), undefined, bad);
    }
    assert.equal(parseByteSize("99999999t"), undefined);
  });
});
