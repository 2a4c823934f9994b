import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { challengeScopes, parseChallenges, repositoryScope } from "./challenge.js";

describe("parseChallenges", () => {
  it("reads Docker Hub's Bearer challenge with a comma inside the scope", () => {
    const [c, ...rest] = parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
    );
    assert.equal(rest.length, 0);
    assert.equal(c!.scheme, "bearer");
    assert.deepEqual(c!.params, {
      realm: "https://auth.docker.io/token",
      service: "registry.docker.io",
      scope: "repository:samalba/my-app:pull,push",
    });
  });

  it("reads Basic, case-insensitive names, spaces around = and escaped quotes", () => {
    const [c] = parseChallenges('basic  Realm = "a \\"quoted\\" realm" ');
    assert.equal(c!.scheme, "basic");
    assert.equal(c!.params.realm, 'a "quoted" realm');
  });

  it("splits several challenges in one header and unquoted token values", () => {
    const cs = parseChallenges(
      'Basic realm="r1", Bearer realm="https://t/x",error=insufficient_scope,scope="a b"',
    );
    assert.deepEqual(
      cs.map((c) => c.scheme),
      ["basic", "bearer"],
    );
    assert.equal(cs[1]!.params.error, "insufficient_scope");
    assert.deepEqual(challengeScopes(cs[1]), ["a", "b"]);
  });

  it("keeps a token68 and survives garbage without looping", () => {
    const [c] = parseChallenges("Negotiate YWJj==, Bearer realm=x");
    assert.equal(c!.token68, "YWJj==");
    assert.deepEqual(parseChallenges(""), []);
    assert.deepEqual(parseChallenges(undefined), []);
    assert.ok(parseChallenges('"=,=,"""').length >= 0);
    const [u] = parseChallenges('Bearer realm="unterminated');
    assert.equal(u!.params.realm, "unterminated");
  });

  it("builds repository scopes", () => {
    assert.equal(repositoryScope("library/hello"), "repository:library/hello:pull");
    assert.equal(repositoryScope("a/b", "pull,push"), "repository:a/b:pull,push");
    assert.deepEqual(challengeScopes(undefined), []);
  });
});
