/**
 * Pulls from registries that require credentials: htpasswd Basic auth, and bearer tokens from a token server
 * that grants only what its policy allows and records the scopes it was asked for. Credentials come from a
 * temporary Docker config.json (`DOCKER_CONFIG`).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { Code, ShimError, sha256 } from "../src/internal/index.js";
import { buildImage } from "../src/oci/build/build.js";
import { pull } from "../src/oci/pull/pull.js";
import { useDockerConfig } from "./harness/docker-config.js";
import { helloModule } from "./harness/modules.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { checkStore } from "./harness/store-check.js";
import { startTokenServer, type TokenServer } from "./harness/token-server.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm", "htpasswd", "openssl");
const roots: string[] = [];
const newRoot = async () => {
  const root = await mkdtemp(join(tmpdir(), "nodewasi-store-"));
  roots.push(root);
  return root;
};
let restoreConfig: (() => Promise<void>) | undefined;
const withCredentials = async (host: string, user: string, password: string) => {
  await restoreConfig?.();
  restoreConfig = await useDockerConfig({ [host]: { user, password } });
};
/** No credentials at all: an empty config.json, so the developer's own ~/.docker is never read. */
const withoutCredentials = async () => {
  await restoreConfig?.();
  restoreConfig = await useDockerConfig({});
};

afterEach(async () => {
  await restoreConfig?.();
  restoreConfig = undefined;
});
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

const denied = (err: unknown) => {
  assert.ok(err instanceof ShimError, `want a ShimError, got ${String(err)}`);
  assert.ok(
    err.code === Code.Unauthenticated || err.code === Code.PermissionDenied,
    `want unauthenticated or permission_denied, got ${err.message}`,
  );
  return true;
};

describe("pull with htpasswd Basic auth", { skip: skip ?? false }, () => {
  const user = { user: "alice", password: "s3cret-pass" };
  const module = skip ? Buffer.alloc(0) : helloModule("hello from behind basic auth");
  let registry: Registry;
  before(async () => {
    registry = await startRegistry({ htpasswd: user });
    await pushBuilt(registry.host, "private/app:v1", buildImage({ module, format: "image" }), user);
  });
  after(() => registry?.stop());

  test("credentials from DOCKER_CONFIG pull the image", async () => {
    await withCredentials(registry.host, user.user, user.password);
    const root = await newRoot();
    const result = await pull(`${registry.host}/private/app:v1`, { root, plainHttp: true });
    assert.equal(sha256(await readFile(result.module.path)), sha256(module));
    await checkStore(root);
  });

  test("no credentials: Unauthenticated, naming the registry", async () => {
    await withoutCredentials();
    await assert.rejects(
      pull(`${registry.host}/private/app:v1`, { root: await newRoot(), plainHttp: true }),
      (err) => {
        denied(err);
        assert.match((err as Error).message, new RegExp(registry.host.replace(/\./g, "\\.")));
        return true;
      },
    );
  });

  test("a wrong password is refused, not retried forever", async () => {
    await withCredentials(registry.host, user.user, "wrong");
    const t0 = Date.now();
    await assert.rejects(
      pull(`${registry.host}/private/app:v1`, { root: await newRoot(), plainHttp: true }),
      denied,
    );
    assert.ok(Date.now() - t0 < 10_000, "gave up promptly");
  });
});

describe("pull with bearer tokens", { skip: skip ?? false }, () => {
  const module = skip ? Buffer.alloc(0) : helloModule("hello from behind a token server");
  const publicModule = skip ? Buffer.alloc(0) : helloModule("hello from a public repository");
  let tokens: TokenServer;
  let registry: Registry;
  before(async () => {
    tokens = await startTokenServer({
      users: {
        admin: { password: "admin-pass", access: { "*": ["pull", "push"] } },
        reader: { password: "reader-pass", access: { "team/app": ["pull"] } },
        other: { password: "other-pass", access: { "team/other": ["pull"] } },
      },
      anonymous: { "public/app": ["pull"] },
    });
    registry = await startRegistry({ token: tokens });
    const admin = { user: "admin", password: "admin-pass" };
    await pushBuilt(registry.host, "team/app:v1", buildImage({ module, format: "artifact" }), admin);
    await pushBuilt(
      registry.host,
      "public/app:v1",
      buildImage({ module: publicModule, format: "image" }),
      admin,
    );
  });
  after(async () => {
    await registry?.stop();
    await tokens?.stop();
  });

  test("a reader pulls with a token scoped to pull on that repository only", async () => {
    await withCredentials(registry.host, "reader", "reader-pass");
    const before = tokens.requests.length;
    const root = await newRoot();
    const result = await pull(`${registry.host}/team/app:v1`, { root, plainHttp: true });
    assert.equal(sha256(await readFile(result.module.path)), sha256(module));
    const asked = tokens.requests.slice(before);
    assert.ok(asked.length >= 1, "the token server was asked");
    for (const r of asked) {
      assert.equal(r.user, "reader", "credentials from config.json reached the token server");
      assert.equal(r.service, tokens.service);
      assert.deepEqual(r.scopes, ["repository:team/app:pull"], "asks only to pull, only this repository");
    }
    assert.ok(asked.length <= 2, `token reused across requests (${asked.length} token requests)`);
  });

  test("anonymous pull of a public repository needs no credentials", async () => {
    await withoutCredentials();
    const before = tokens.requests.length;
    const result = await pull(`${registry.host}/public/app:v1`, { root: await newRoot(), plainHttp: true });
    assert.equal(sha256(await readFile(result.module.path)), sha256(publicModule));
    for (const r of tokens.requests.slice(before)) assert.equal(r.user, "");
  });

  test("anonymous pull of a private repository is denied", async () => {
    await withoutCredentials();
    await assert.rejects(
      pull(`${registry.host}/team/app:v1`, { root: await newRoot(), plainHttp: true }),
      denied,
    );
  });

  test("a user without access to the repository is denied", async () => {
    await withCredentials(registry.host, "other", "other-pass");
    const before = tokens.requests.length;
    await assert.rejects(
      pull(`${registry.host}/team/app:v1`, { root: await newRoot(), plainHttp: true }),
      denied,
    );
    const asked = tokens.requests.slice(before);
    assert.ok(asked.length >= 1);
    assert.ok(
      asked.every((r) => r.granted.length === 0),
      "nothing was granted",
    );
  });

  test("wrong credentials are refused by the token server", async () => {
    await withCredentials(registry.host, "reader", "nope");
    const before = tokens.requests.length;
    await assert.rejects(
      pull(`${registry.host}/team/app:v1`, { root: await newRoot(), plainHttp: true }),
      denied,
    );
    assert.ok(tokens.requests.slice(before).some((r) => r.status === 401));
  });
});
