import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "../../internal/index.js";
import { connectionError, parseRegistryErrors, registryError } from "./errors.js";

const req = {
  what: "manifest ghcr.io/a/b:v1",
  method: "GET",
  url: new URL("https://ghcr.io/v2/a/b/manifests/v1?_state=SECRET"),
  registry: "ghcr.io",
};
const body = (errors: unknown) => Buffer.from(JSON.stringify({ errors }));

describe("registry errors", () => {
  it("parses distribution-spec error bodies and ignores anything else", () => {
    assert.deepEqual(
      parseRegistryErrors(body([{ code: "MANIFEST_UNKNOWN", message: "unknown", detail: { Tag: "v1" } }])),
      [{ code: "MANIFEST_UNKNOWN", message: "unknown", detail: { Tag: "v1" } }],
    );
    assert.deepEqual(parseRegistryErrors("<html>"), []);
    assert.deepEqual(parseRegistryErrors('{"errors":"no"}'), []);
    assert.deepEqual(parseRegistryErrors('{"errors":[{"message":"m"},null]}'), [
      { code: "UNKNOWN", message: "m" },
    ]);
  });

  it("maps statuses to codes, keeps the registry's words, shows only the path", () => {
    const e = registryError(req, 404, body([{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }]));
    assert.equal(e.code, Code.NotFound);
    assert.match(
      e.message,
      /^\[not_found\] manifest ghcr\.io\/a\/b:v1: GET ghcr\.io\/v2\/a\/b\/manifests\/v1 returned HTTP 404/,
    );
    assert.match(e.message, /MANIFEST_UNKNOWN: manifest unknown/);
    assert.doesNotMatch(e.message, /SECRET/);
    assert.deepEqual(e.details.errors, [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }]);
    assert.equal(e.details.status, 404);
    assert.equal(e.temporary, false);

    const denied = registryError(req, 403, body([{ code: "DENIED", message: "no" }]));
    assert.equal(denied.code, Code.PermissionDenied);
    assert.match(denied.message, /docker login ghcr\.io.*~\/\.docker\/config\.json/);
    assert.equal(registryError(req, 401, undefined).code, Code.Unauthenticated);

    const limited = registryError(
      req,
      429,
      body([{ code: "TOOMANYREQUESTS", message: "slow down" }]),
      30_000,
    );
    assert.equal(limited.code, Code.ResourceExhausted);
    assert.equal(limited.temporary, true);
    assert.match(limited.message, /wait 30 s/);
    assert.equal(limited.details.retryAfterMs, 30_000);

    const down = registryError(req, 503, Buffer.from("upstream connect error"));
    assert.equal(down.code, Code.Unavailable);
    assert.equal(down.temporary, true);
    assert.match(down.message, /\(upstream connect error\)/);
    assert.equal(registryError(req, 400, undefined).code, Code.InvalidArgument);
    assert.equal(registryError(req, 416, undefined).code, Code.OutOfRange);
  });

  it("names --plain-http for a TLS failure, and retryability for resets", () => {
    const tls = connectionError(req, Object.assign(new Error("wrong version number"), { code: "EPROTO" }));
    assert.equal(tls.code, Code.Unavailable);
    assert.match(tls.message, /--plain-http/);
    assert.equal(tls.temporary, false);
    const reset = connectionError(
      req,
      Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
    );
    assert.equal(reset.temporary, true);
    assert.match(reset.message, /UND_ERR_SOCKET/);
  });
});
