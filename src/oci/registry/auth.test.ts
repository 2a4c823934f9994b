/** Token flows against loopback fakes: anonymous and Basic GET, OAuth2 POST (and its 404 fallback), scopes. */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, describe, it } from "node:test";
import { json, type LoopbackServer, loopbackServer, type Recorded } from "../../../test/harness/index.js";
import { Code, createLogger, type ShimError } from "../../internal/index.js";
import type { CredentialProvider, Credentials } from "./credentials.js";
import { anonymous, RegistryClient } from "./registry-client.js";

const MANIFEST = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
const fast = { attempts: 3, baseMs: 1, maxMs: 5 };
const servers: LoopbackServer[] = [];
const clients: RegistryClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(h: (req: Recorded, res: ServerResponse) => void): Promise<LoopbackServer> {
  const s = await loopbackServer(h);
  servers.push(s);
  return s;
}
function client(credentials: CredentialProvider = anonymous): RegistryClient {
  const c = new RegistryClient({ credentials, retry: fast });
  clients.push(c);
  return c;
}
const provider = (c: Credentials): CredentialProvider => ({ get: async () => c });
const scopesOf = (r: Recorded) => new URL(r.url, "http://x").searchParams.getAll("scope");

/** A registry that wants `Bearer <token>` and challenges with `scope` otherwise. */
async function bearerRegistry(realm: () => string, token: string, scope: string): Promise<LoopbackServer> {
  return serve((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      json(
        res,
        401,
        { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
        {
          "www-authenticate": `Bearer realm="${realm()}",service="fake-registry",scope="${scope}"`,
        },
      );
      return;
    }
    res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json; charset=utf-8" });
    res.end(MANIFEST);
  });
}

describe("bearer tokens", () => {
  it("anonymous: GETs the realm with service and scope and no Authorization, then caches the token", async () => {
    const tokens = await serve((req, res) => {
      const q = new URL(req.url, "http://x").searchParams;
      const ok =
        !req.headers.authorization &&
        q.get("service") === "fake-registry" &&
        q.getAll("scope").join(" ") === "repository:org/app:pull";
      json(
        res,
        ok ? 200 : 403,
        ok ? { token: "anon-token", expires_in: 300 } : { details: "bad token request" },
      );
    });
    const reg = await bearerRegistry(() => `${tokens.origin}/token`, "anon-token", "repository:org/app:pull");
    const c = client();
    const ref = { registry: reg.host, repository: "org/app", tag: "v1" };
    const m = await c.getManifest(ref);
    assert.deepEqual(m.bytes, MANIFEST);
    assert.equal(m.mediaType, "application/vnd.oci.image.manifest.v1+json");
    await c.getManifest(ref);
    await c.getManifest(ref);
    assert.equal(tokens.requests.length, 1, "one token for three requests");
    assert.equal(reg.requests.length, 4, "one 401, then three authorized requests");
  });

  it("Basic credentials go to the token server only, never to the registry", async () => {
    const basic = `Basic ${Buffer.from("alice:s3cret").toString("base64")}`;
    const tokens = await serve((req, res) => {
      if (req.headers.authorization !== basic) json(res, 401, { details: "who are you" });
      else json(res, 200, { access_token: "alice-token" });
    });
    const reg = await bearerRegistry(
      () => `${tokens.origin}/token`,
      "alice-token",
      "repository:org/private:pull",
    );
    const m = await client(provider({ username: "alice", password: "s3cret" })).getManifest({
      registry: reg.host,
      repository: "org/private",
      tag: "v1",
    });
    assert.deepEqual(m.bytes, MANIFEST);
    assert.ok(reg.requests.every((r) => !String(r.headers.authorization ?? "").startsWith("Basic")));
  });

  it("a token server refusing the credentials is Unauthenticated, without the password", async () => {
    const tokens = await serve((_req, res) =>
      json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "bad login" }] }),
    );
    const reg = await bearerRegistry(() => `${tokens.origin}/token`, "never", "repository:org/app:pull");
    await assert.rejects(
      client(provider({ username: "bob", password: "hunter2" })).getManifest({
        registry: reg.host,
        repository: "org/app",
        tag: "v1",
      }),
      (e: ShimError) => {
        assert.equal(e.code, Code.Unauthenticated);
        assert.match(e.message, /token for 127\.0\.0\.1:\d+ .*bad login.*docker login/);
        assert.doesNotMatch(e.message, /hunter2/);
        return true;
      },
    );
  });

  it("identity tokens use the OAuth2 POST with the refresh token", async () => {
    const tokens = await serve((req, res) => {
      const form = new URLSearchParams(req.body.toString());
      const ok =
        req.method === "POST" &&
        req.headers["content-type"] === "application/x-www-form-urlencoded" &&
        form.get("grant_type") === "refresh_token" &&
        form.get("refresh_token") === "id-tok" &&
        form.get("service") === "fake-registry" &&
        form.get("scope") === "repository:org/app:pull" &&
        form.get("client_id") === "nodewasi";
      json(res, ok ? 200 : 400, ok ? { access_token: "oauth-token", expires_in: 120 } : {});
    });
    const reg = await bearerRegistry(
      () => `${tokens.origin}/token`,
      "oauth-token",
      "repository:org/app:pull",
    );
    await client(provider({ identityToken: "id-tok" })).getManifest({
      registry: reg.host,
      repository: "org/app",
      tag: "v1",
    });
    assert.equal(tokens.requests.length, 1);
  });

  it("falls back to the GET flow when the realm has no OAuth2 endpoint (404)", async () => {
    const tokens = await serve((req, res) => {
      if (req.method === "POST") json(res, 404, {});
      else json(res, 200, { token: "get-token" });
    });
    const reg = await bearerRegistry(() => `${tokens.origin}/token`, "get-token", "repository:org/app:pull");
    await client(provider({ identityToken: "id-tok" })).getManifest({
      registry: reg.host,
      repository: "org/app",
      tag: "v1",
    });
    assert.deepEqual(
      tokens.requests.map((r) => r.method),
      ["POST", "GET"],
    );
  });

  it("a registrytoken is sent as the bearer token without asking the realm", async () => {
    const tokens = await serve((_req, res) => json(res, 500, {}));
    const reg = await bearerRegistry(() => `${tokens.origin}/token`, "given", "repository:org/app:pull");
    await client(provider({ registryToken: "given" })).getManifest({
      registry: reg.host,
      repository: "org/app",
      tag: "v1",
    });
    assert.equal(tokens.requests.length, 0);
  });

  it("on a 401 asking for another scope, merges scopes with the new one first", async () => {
    const tokens = await serve((req, res) => {
      const scopes = scopesOf(req);
      json(res, 200, { token: scopes.includes("repository:org/base:pull") ? "wide" : "narrow" });
    });
    const reg = await serve((req, res) => {
      if (req.headers.authorization === "Bearer wide") {
        res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
        res.end(MANIFEST);
        return;
      }
      const scope = req.headers.authorization ? "repository:org/base:pull" : "repository:org/app:pull";
      json(
        res,
        401,
        { errors: [{ code: "DENIED", message: "insufficient scope" }] },
        {
          "www-authenticate": `Bearer realm="${tokens.origin}/token",service="fake",error="insufficient_scope",scope="${scope}"`,
        },
      );
    });
    await client().getManifest({ registry: reg.host, repository: "org/app", tag: "v1" });
    assert.deepEqual(tokens.requests.map(scopesOf), [
      ["repository:org/app:pull"],
      ["repository:org/base:pull", "repository:org/app:pull"],
    ]);
    assert.equal(reg.requests.length, 3);
  });

  it("gives up after two rounds when fresh tokens keep being refused", async () => {
    const tokens = await serve((_req, res) => json(res, 200, { token: "useless" }));
    const reg = await bearerRegistry(() => `${tokens.origin}/token`, "never", "repository:org/app:pull");
    await assert.rejects(
      client().getManifest({ registry: reg.host, repository: "org/app", tag: "v1" }),
      (e: ShimError) => e.code === Code.Unauthenticated && /UNAUTHORIZED/.test(e.message),
    );
    assert.equal(reg.requests.length, 3);
  });

  it("refuses a realm on a private address that is not the registry, without calling it", async () => {
    const reg = await bearerRegistry(
      () => "http://169.254.169.254/latest/meta-data",
      "x",
      "repository:org/app:pull",
    );
    await assert.rejects(
      client().getManifest({ registry: reg.host, repository: "org/app", tag: "v1" }),
      (e: ShimError) => e.code === Code.PermissionDenied && /169\.254\.169\.254/.test(e.message),
    );
  });

  it("Basic challenge: sends credentials to the registry itself, and no credentials is Unauthenticated", async () => {
    const basic = `Basic ${Buffer.from("u:p").toString("base64")}`;
    const reg = await serve((req, res) => {
      if (req.headers.authorization === basic) {
        res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
        res.end(MANIFEST);
      } else
        json(
          res,
          401,
          { errors: [{ code: "UNAUTHORIZED", message: "login" }] },
          { "www-authenticate": 'Basic realm="fake"' },
        );
    });
    const ref = { registry: reg.host, repository: "org/app", tag: "v1" };
    const c = client(provider({ username: "u", password: "p" }));
    await c.getManifest(ref);
    await c.getManifest(ref);
    assert.equal(reg.requests.length, 3, "the second request sends Basic at once");
    await assert.rejects(client().getManifest(ref), (e: ShimError) => e.code === Code.Unauthenticated);
  });
});

describe("sharing", () => {
  it("parallel requests for the same scopes share one token fetch", async () => {
    const tokens = await serve((_req, res) => setTimeout(() => json(res, 200, { token: "shared" }), 50));
    const reg = await bearerRegistry(() => `${tokens.origin}/token`, "shared", "repository:org/app:pull");
    const c = client();
    const ref = { registry: reg.host, repository: "org/app", tag: "v1" };
    await Promise.all(Array.from({ length: 5 }, () => c.getManifest(ref)));
    assert.equal(tokens.requests.length, 1);
  });

  it("logs which credentials are used without the secret", async () => {
    const lines: string[] = [];
    const reg = await serve((req, res) => {
      if (req.headers.authorization) res.writeHead(200, { "content-type": "application/json" }).end(MANIFEST);
      else json(res, 401, {}, { "www-authenticate": 'Basic realm="r"' });
    });
    const c = new RegistryClient({
      credentials: provider({ username: "carol", password: "pa55word" }),
      logger: createLogger({ level: "debug", write: (l) => lines.push(l) }),
    });
    clients.push(c);
    await c.getManifest({ registry: reg.host, repository: "org/app", tag: "v1" });
    const log = lines.join("");
    assert.match(log, /using credentials.*carol.*<redacted>/);
    assert.doesNotMatch(log, /pa55word/);
  });
});
