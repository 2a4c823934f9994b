import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "../../internal/index.js";
import { connectionError, parseRegistryErrors, registryError } from "./errors.js";
import { DocumentTimeoutError } from "./timeouts.js";
import { TransportError } from "./transport.js";

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

  it("a stall is DeadlineExceeded naming the host that went silent, the phase and the setting", () => {
    const undici = (code: string) => Object.assign(new Error(code), { code });
    const storage = new URL("https://storage.example/bucket/blob?sig=SECRET");
    const cases: [unknown, RegExp][] = [
      [
        new TransportError(storage, false, undici("UND_ERR_CONNECT_TIMEOUT")),
        /GET storage\.example\/bucket\/blob: could not connect to storage\.example within 30s \(2 tries\)/,
      ],
      [undici("UND_ERR_HEADERS_TIMEOUT"), /connected to ghcr\.io, but no answer came within 30s/],
      [
        new TransportError(req.url, true, undici("UND_ERR_HEADERS_TIMEOUT")),
        /ghcr\.io stopped taking the request body, or did not answer it, within 30s/,
      ],
      [
        undici("UND_ERR_BODY_TIMEOUT"),
        /ghcr\.io stopped sending the response: nothing for 30s after 4096 bytes/,
      ],
      [new DocumentTimeoutError(), /ghcr\.io did not send the whole response within 30s after 4096 bytes/],
    ];
    for (const [err, phase] of cases) {
      const e = connectionError(req, err, { timeoutMs: 30_000, tries: 2, bytes: 4096 });
      assert.equal(Code[e.code], Code[Code.DeadlineExceeded], e.message);
      assert.match(e.rawMessage, phase);
      assert.match(e.rawMessage, /raise --registry-timeout or NODEWASI_REGISTRY_TIMEOUT \(now 30s\)$/);
      assert.doesNotMatch(e.rawMessage, /SECRET/);
      assert.equal(e.temporary, true);
    }
    const wedged = connectionError(req, undici("UND_ERR_HEADERS_TIMEOUT"), { wedged: true });
    assert.equal(
      wedged.temporary,
      false,
      "a peer stalled as often as the policy allows is not retried again",
    );
  });
});
