/**
 * `nodewasi push` when things go wrong, against Debian's docker-registry: htpasswd auth (credentials from
 * docker's config.json, none, wrong ones), an upload broken mid-blob and retried in a fresh session (the
 * registry ends with every blob once and intact), 429 with Retry-After, a read-only registry (405
 * UNSUPPORTED), and each refusal a registry can answer, injected by the fault proxy: one clear message with
 * the registry's code, a hint, and the exit code scripts can test.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { digestHex, sha256 } from "../src/internal/index.js";
import { buildImage, type CopyResult, pull, writeLayout } from "../src/oci/index.js";
import { useDockerConfig } from "./harness/docker-config.js";
import { type FaultProxy, type FaultRule, startFaultProxy } from "./harness/fault-proxy.js";
import { type CliWork, cli, makeWork } from "./harness/index.js";
import { bigModule, helloModule } from "./harness/modules.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";

const skip = registrySkipReason() ?? toolSkipReason("htpasswd", "wat2wasm");
const USER = { user: "pusher", password: "s3cret-push" };

/** Every blob file of a registry's storage, checked: its bytes hash to the digest its path names. */
async function registryBlobs(registry: Registry): Promise<string[]> {
  const base = join(registry.dir, "data/docker/registry/v2/blobs/sha256");
  const out: string[] = [];
  for (const prefix of await readdir(base).catch(() => [])) {
    for (const hex of await readdir(join(base, prefix))) {
      const bytes = await readFile(join(base, prefix, hex, "data"));
      assert.equal(createHash("sha256").update(bytes).digest("hex"), hex, `registry blob ${hex} is intact`);
      out.push(hex);
    }
  }
  return out.sort();
}

describe("push failures and refusals", { skip: skip ?? false }, () => {
  let work: CliWork;
  let layout: string;
  const module = skip ? Buffer.alloc(0) : bigModule("pushed through faults", 2 * 1024 * 1024);

  before(async () => {
    work = await makeWork([]);
    work.env.DOCKER_CONFIG = join(work.dir, "no-docker-config");
    layout = join(work.dir, "images");
    await writeLayout(layout, [
      { image: buildImage({ module, format: "artifact" }), tag: "big" },
      { image: buildImage({ module: helloModule("small push"), format: "image" }), tag: "small" },
    ]);
  });
  after(async () => {
    if (work) await rm(work.dir, { recursive: true, force: true });
  });

  describe("a registry with htpasswd auth", () => {
    let registry: Registry;
    before(async () => {
      registry = await startRegistry({ htpasswd: USER });
    });
    after(async () => registry?.stop());

    /** Runs the CLI with a docker config.json holding `auth` for the registry. */
    const withAuth = async (auth: { user: string; password: string }, args: string[]) => {
      const restore = await useDockerConfig({ [registry.host]: auth });
      const previous = work.env.DOCKER_CONFIG!;
      work.env.DOCKER_CONFIG = process.env.DOCKER_CONFIG!;
      try {
        return await cli(work, args);
      } finally {
        work.env.DOCKER_CONFIG = previous;
        await restore();
      }
    };

    test("pushes with the credentials of docker's config.json, and pulls back", async () => {
      const ref = `${registry.host}/auth/app:v1`;
      const ok = await withAuth(USER, ["push", "--json", `oci:${layout}:small`, ref]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((JSON.parse(ok.stdout) as CopyResult).blobs.uploaded, 2);
      const restore = await useDockerConfig({ [registry.host]: USER });
      try {
        const back = await pull(ref, { root: join(work.dir, "auth-back") });
        assert.equal(back.module.digest, sha256(helloModule("small push")));
      } finally {
        await restore();
      }
    });

    test("without credentials: exit 4, the registry's words and how to log in", async () => {
      const r = await cli(work, ["push", `oci:${layout}:small`, `${registry.host}/auth/app:v2`]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /^nodewasi: blob sha256:\w+ in 127\.0\.0\.1:\d+\/auth\/app: .*HTTP 401/m);
      assert.match(r.stderr, /hint: pushing needs push access to .*docker login 127\.0\.0\.1:\d+/);
      assert.equal(r.stdout, "");
    });

    test("a wrong password: exit 4, and the password is never shown", async () => {
      const r = await withAuth({ user: USER.user, password: "not-the-password" }, [
        "push",
        `oci:${layout}:small`,
        `${registry.host}/auth/app:v3`,
      ]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /HTTP 401/);
      assert.doesNotMatch(r.stderr, /not-the-password/);
    });
  });

  describe("through a fault proxy", () => {
    let registry: Registry;
    let proxy: FaultProxy;
    before(async () => {
      registry = await startRegistry();
      proxy = await startFaultProxy(registry.host);
    });
    after(async () => {
      await proxy?.stop();
      await registry?.stop();
    });
    const push = (tag: string, repo: string, rules: FaultRule[], ...extra: string[]) => {
      proxy.setRules(rules);
      return cli(work, ["push", ...extra, `oci:${layout}:${tag}`, `${proxy.host}/${repo}`]);
    };

    test("an upload broken mid-blob starts again in a fresh session and completes: no duplicate, no corrupt blob", async () => {
      const layer = digestHex(sha256(module));
      const mark = proxy.requests.length;
      const r = await push(
        "big",
        "faults/broken:v1",
        [
          {
            method: "PUT",
            path: new RegExp(`/blobs/uploads/.+digest=sha256%3A${layer}`),
            fault: { kind: "reset-request", afterBytes: 1024 * 1024 },
          },
        ],
        "--json",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(proxy.total(), 1, "the fault was injected once");
      const sessions = proxy.requests
        .slice(mark)
        .filter((q) => q.method === "POST" && /\/blobs\/uploads\/$/.test(q.path));
      assert.equal(sessions.length, 3, "config + layer + the layer's second session");
      assert.deepEqual((JSON.parse(r.stdout) as CopyResult).blobs, { uploaded: 2, exists: 0, mounted: 0 });
      const blobs = await registryBlobs(registry);
      assert.equal(blobs.filter((b) => b === layer).length, 1);
      const back = await pull(`${registry.host}/faults/broken:v1`, { root: join(work.dir, "broken-back") });
      assert.equal(back.module.digest, sha256(module));
      // Pushing again finds everything there.
      const again = await push("big", "faults/broken:v1", [], "--json");
      assert.equal((JSON.parse(again.stdout) as CopyResult).blobs.exists, 2);
    });

    test("429 with Retry-After on the upload is waited out and retried", async () => {
      const r = await push("small", "faults/busy:v1", [
        {
          method: "POST",
          path: /\/blobs\/uploads\/$/,
          occurrences: [1],
          fault: { kind: "status", status: 429, retryAfter: 0 },
        },
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(proxy.total(), 1);
    });

    const refusals: { name: string; rule: FaultRule; exit: number; said: RegExp; hint: RegExp }[] = [
      {
        name: "403 DENIED",
        rule: {
          method: "POST",
          path: /\/blobs\/uploads\/$/,
          occurrences: "all",
          fault: { kind: "status", status: 403, code: "DENIED" },
        },
        exit: 4,
        said: /HTTP 403 \(DENIED/,
        hint: /pushing needs push access/,
      },
      {
        name: "404 NAME_UNKNOWN",
        rule: {
          method: "POST",
          path: /\/blobs\/uploads\/$/,
          occurrences: "all",
          fault: { kind: "status", status: 404, code: "NAME_UNKNOWN" },
        },
        exit: 3,
        said: /HTTP 404 \(NAME_UNKNOWN/,
        hint: /repository does not exist/,
      },
      {
        name: "413 on a blob",
        rule: {
          method: "PUT",
          path: /\/blobs\/uploads\//,
          occurrences: "all",
          fault: { kind: "status", status: 413, code: "SIZE_INVALID" },
        },
        exit: 1,
        said: /HTTP 413/,
        hint: /--chunk-size/,
      },
      {
        name: "400 MANIFEST_INVALID",
        rule: {
          method: "PUT",
          path: /\/manifests\//,
          occurrences: "all",
          fault: { kind: "status", status: 400, code: "MANIFEST_INVALID" },
        },
        exit: 6,
        said: /HTTP 400 \(MANIFEST_INVALID/,
        hint: /refused the manifest/,
      },
      {
        name: "400 BLOB_UPLOAD_INVALID",
        rule: {
          method: "PUT",
          path: /\/blobs\/uploads\//,
          occurrences: "all",
          fault: { kind: "status", status: 400, code: "BLOB_UPLOAD_INVALID" },
        },
        exit: 6,
        said: /HTTP 400 \(BLOB_UPLOAD_INVALID/,
        hint: /push again/,
      },
      {
        name: "429 that does not end",
        rule: {
          method: "POST",
          path: /\/blobs\/uploads\/$/,
          occurrences: "all",
          fault: { kind: "status", status: 429, retryAfter: 0 },
        },
        exit: 1,
        said: /HTTP 429 \(TOOMANYREQUESTS/,
        hint: /rate limiting/,
      },
    ];
    for (const f of refusals) {
      test(`${f.name}: exit ${f.exit}, the registry's code and a hint`, async () => {
        const repo = `faults/${f.name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}:v1`;
        const r = await push("small", repo, [f.rule]);
        assert.equal(r.code, f.exit, r.stderr);
        assert.match(r.stderr, f.said);
        assert.match(r.stderr, /^hint: /m);
        assert.match(r.stderr, f.hint);
        assert.equal(r.stdout, "");
      });
    }

    test("a corrupt blob in the source is refused by the registry (DIGEST_INVALID), exit 6", async () => {
      const dir = join(work.dir, "corrupt");
      const image = buildImage({ module: helloModule("corrupt me"), format: "artifact" });
      await writeLayout(dir, [{ image, tag: "v1" }]);
      const path = join(dir, "blobs/sha256", digestHex(sha256(helloModule("corrupt me"))));
      const bytes = await readFile(path);
      bytes[bytes.length - 1] ^= 0xff;
      await writeFile(path, bytes);
      proxy.setRules([]);
      const r = await cli(work, ["push", `oci:${dir}:v1`, `${proxy.host}/faults/corrupt:v1`]);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /DIGEST_INVALID/);
      assert.match(r.stderr, /hint: .*corrupt/);
    });
  });

  test("a read-only registry: 405, and the hint says it takes no pushes", async () => {
    const registry = await startRegistry({ readOnly: true });
    try {
      const r = await cli(work, ["push", `oci:${layout}:small`, `${registry.host}/ro/app:v1`]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /POST 127\.0\.0\.1:\d+\/v2\/ro\/app\/blobs\/uploads\/ returned HTTP 405/);
      assert.match(r.stderr, /hint: this registry does not accept pushes/);
    } finally {
      await registry.stop();
    }
  });
});
