import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TokenCache } from "./token-cache.js";

describe("TokenCache", () => {
  it("keys by registry and scope set, regardless of order and duplicates", () => {
    const c = new TokenCache(() => 0);
    c.set("r", ["b", "a"], "t1", 300);
    assert.equal(c.get("r", ["a", "b", "a"]), "t1");
    assert.equal(c.get("r", ["a"]), undefined);
    assert.equal(c.get("other", ["a", "b"]), undefined);
  });

  it("honours expires_in, with 60 s when it is missing", () => {
    let now = 0;
    const c = new TokenCache(() => now);
    c.set("r", ["s"], "long", 300);
    c.set("r", ["d"], "default");
    now = 50_000;
    assert.equal(c.get("r", ["d"]), "default");
    now = 61_000;
    assert.equal(c.get("r", ["d"]), undefined);
    assert.equal(c.get("r", ["s"]), "long");
    now = 300_000;
    assert.equal(c.get("r", ["s"]), undefined);
  });

  it("forgets a deleted token", () => {
    const c = new TokenCache();
    c.set("r", ["s"], "t", 60);
    c.delete("r", ["s"]);
    assert.equal(c.get("r", ["s"]), undefined);
  });
});

describe("TokenCache.alias", () => {
  it("shares a token and its expiry under another scope set", () => {
    let now = 0;
    const c = new TokenCache(() => now);
    c.set("r", ["a", "b"], "wide", 300);
    c.alias("r", ["a", "b"], ["a"]);
    assert.equal(c.get("r", ["a"]), "wide");
    now = 200_000;
    assert.equal(c.get("r", ["a"]), "wide");
    now = 300_000;
    assert.equal(c.get("r", ["a"]), undefined);
    c.alias("r", ["missing"], ["x"]);
    assert.equal(c.get("r", ["x"]), undefined);
  });
});
