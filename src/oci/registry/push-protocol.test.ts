/**
 * The push half of the distribution API: what a real registry accepts (docker-registry, when installed), and
 * the protocol paths a real registry cannot be made to take on demand (declined mounts, lost upload sessions,
 * answers without Location), on a hand-answered server.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import {
  json,
  type LoopbackServer,
  loopbackServer,
  type Recorded,
  type Registry,
  registrySkipReason,
  startRegistry,
} from "../../../test/harness/index.js";
import { Code, type Logger, ShimError, sha256, silentLogger } from "../../internal/index.js";
import { blobExists, mountBlob, putManifest, uploadBlob } from "./push-protocol.js";
import { RegistryHttp } from "./registry-http.js";

const BLOB = Buffer.from("0123456789abcdef");
const desc = { digest: sha256(BLOB), size: BLOB.length };
const MANIFEST = Buffer.from(
  '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
);
const INDEX_TYPE = "application/vnd.oci.image.index.v1+json";

const clients: RegistryHttp[] = [];
function http(): RegistryHttp {
  const c = new RegistryHttp({
    userAgent: "nodewasi-test",
    logger: silentLogger,
    retry: { attempts: 2, baseMs: 1, maxMs: 5 },
    timeoutMs: 30_000,
  });
  clients.push(c);
  return c;
}
after(() => Promise.all(clients.map((c) => c.close())));

/** Registry errors as distribution writes them. */
function registryError(res: ServerResponse, status: number, code: string): void {
  json(res, status, { errors: [{ code, message: code.toLowerCase() }] });
}

describe("push against a real registry", { skip: registrySkipReason() }, () => {
  let registry: Registry;
  before(async () => {
    registry = await startRegistry();
  });
  after(() => registry?.stop());

  it("uploads a stream in chunks that do not line up with its pieces, and the registry verifies it", async () => {
    const big = Buffer.alloc(100_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const d = { digest: sha256(big), size: big.length };
    const pieces = () => Readable.from([big.subarray(0, 1), big.subarray(1, 40_000), big.subarray(40_000)]);
    const h = http();
    assert.equal(await blobExists(h, registry.host, "test/chunks", d), false);
    await uploadBlob(h, registry.host, "test/chunks", d, pieces, { chunkSize: 7_000 });
    assert.equal(await blobExists(h, registry.host, "test/chunks", d), true);
  });

  it("a stream the descriptor does not describe is refused by the registry (DIGEST_INVALID)", async () => {
    const lie = { digest: sha256("something else"), size: BLOB.length };
    await assert.rejects(
      uploadBlob(http(), registry.host, "test/lie", lie, () => Readable.from([BLOB])),
      (e: unknown) =>
        e instanceof ShimError && e.code === Code.InvalidArgument && /DIGEST_INVALID/.test(e.message),
    );
  });

  it("puts a manifest by tag and by digest, returning the digest of the bytes", async () => {
    const h = http();
    const digest = await putManifest(h, registry.host, "test/manifest", "v1", MANIFEST, INDEX_TYPE);
    assert.equal(digest, sha256(MANIFEST));
    assert.equal(await putManifest(h, registry.host, "test/manifest", digest, MANIFEST, INDEX_TYPE), digest);
  });
});

describe("push protocol paths", () => {
  const servers: LoopbackServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));
  async function serve(h: (req: Recorded, res: ServerResponse) => void): Promise<LoopbackServer> {
    const s = await loopbackServer(h);
    servers.push(s);
    return s;
  }
  const steps = (s: LoopbackServer) => s.requests.map((r) => `${r.method} ${r.url.split("?")[0]}`);

  it("uploads nothing when the repository has the blob, unless told not to check", async () => {
    const reg = await serve((req, res) => {
      if (req.method === "HEAD") res.writeHead(200).end();
      else if (req.method === "POST") res.writeHead(202, { location: "/up/1" }).end();
      else res.writeHead(201).end();
    });
    await uploadBlob(http(), reg.host, "org/app", desc, BLOB);
    assert.deepEqual(steps(reg), [`HEAD /v2/org/app/blobs/${desc.digest}`]);
    await uploadBlob(http(), reg.host, "org/app", desc, BLOB, { checkExists: false });
    assert.deepEqual(steps(reg).slice(1), ["POST /v2/org/app/blobs/uploads/", "PUT /up/1"]);
    assert.deepEqual(reg.requests.at(-1)!.body, BLOB);
  });

  it("starts a new session when the registry lost the one a PUT went to, and stops after three", async () => {
    let puts = 0;
    const reg = await serve((req, res) => {
      if (req.method === "HEAD") res.writeHead(404).end();
      else if (req.method === "POST") res.writeHead(202, { location: `/up/${puts + 1}?_state=opaque` }).end();
      else if (++puts < 3) registryError(res, 400, "BLOB_UPLOAD_INVALID");
      else res.writeHead(201).end();
    });
    await uploadBlob(http(), reg.host, "org/app", desc, BLOB);
    assert.deepEqual(
      reg.requests.filter((r) => r.method === "PUT").map((r) => r.url),
      [1, 2, 3].map((n) => `/up/${n}?_state=opaque&digest=${encodeURIComponent(desc.digest)}`),
    );

    const never = await serve((req, res) => {
      if (req.method === "HEAD") res.writeHead(404).end();
      else if (req.method === "POST") res.writeHead(202, { location: "/up/x?_state=secret" }).end();
      else registryError(res, 404, "BLOB_UPLOAD_UNKNOWN");
    });
    await assert.rejects(uploadBlob(http(), never.host, "org/app", desc, BLOB), (e: unknown) => {
      assert.ok(e instanceof ShimError);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
    assert.equal(never.requests.filter((r) => r.method === "POST").length, 3);
  });

  it("a session lost after the blob landed (only the answer was lost) is done", async () => {
    let landed = false;
    const reg = await serve((req, res) => {
      if (req.method === "HEAD") res.writeHead(landed ? 200 : 404).end();
      else if (req.method === "POST") res.writeHead(202, { location: "/up/1" }).end();
      else {
        landed = true;
        registryError(res, 404, "BLOB_UPLOAD_UNKNOWN");
      }
    });
    await uploadBlob(http(), reg.host, "org/app", desc, BLOB);
    assert.deepEqual(steps(reg), [
      `HEAD /v2/org/app/blobs/${desc.digest}`,
      "POST /v2/org/app/blobs/uploads/",
      "PUT /up/1",
      `HEAD /v2/org/app/blobs/${desc.digest}`,
    ]);
  });

  it("a refused upload is not tried in another session", async () => {
    const reg = await serve((req, res) => {
      if (req.method === "HEAD") res.writeHead(404).end();
      else if (req.method === "POST") res.writeHead(202, { location: "/up/1" }).end();
      else registryError(res, 400, "DIGEST_INVALID");
    });
    await assert.rejects(uploadBlob(http(), reg.host, "org/app", desc, BLOB), { code: Code.InvalidArgument });
    assert.equal(reg.requests.filter((r) => r.method === "POST").length, 1);
  });

  it("mounts across repositories (201), or cancels the session a declining registry opened (202)", async () => {
    const reg = await serve((req, res) => {
      if (req.url.includes("from=org%2Fhas")) res.writeHead(201).end();
      else if (req.method === "POST") res.writeHead(202, { location: "/up/declined?_state=s" }).end();
      else res.writeHead(204).end();
    });
    assert.equal(await mountBlob(http(), reg.host, "org/app", "org/has", desc), true);
    assert.equal(await mountBlob(http(), reg.host, "org/app", "org/lacks", desc), false);
    assert.deepEqual(
      reg.requests.map((r) => `${r.method} ${r.url}`),
      [
        `POST /v2/org/app/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=org%2Fhas`,
        `POST /v2/org/app/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=org%2Flacks`,
        "DELETE /up/declined?_state=s",
      ],
    );
  });

  it("an upload answer without Location is a registry that does not follow the spec", async () => {
    const reg = await serve((req, res) => {
      if (req.method === "HEAD") res.writeHead(404).end();
      else res.writeHead(202).end();
    });
    await assert.rejects(uploadBlob(http(), reg.host, "org/app", desc, BLOB), (e: unknown) => {
      assert.ok(e instanceof ShimError && e.code === Code.Unknown);
      assert.match(
        e.message,
        /answered 202 without a Location header; it does not follow the distribution spec/,
      );
      return true;
    });
  });

  it("refuses a chunk size that is not a positive integer, and a digest reference the bytes do not have, sending nothing", async () => {
    const reg = await serve((_req, res) => res.writeHead(500).end());
    for (const chunkSize of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(uploadBlob(http(), reg.host, "org/app", desc, BLOB, { chunkSize }), {
        code: Code.InvalidArgument,
      });
    }
    await assert.rejects(
      putManifest(http(), reg.host, "org/app", sha256("other"), MANIFEST, INDEX_TYPE),
      (e: unknown) =>
        e instanceof ShimError && e.code === Code.InvalidArgument && /the bytes hash to/.test(e.message),
    );
    assert.equal(reg.requests.length, 0);
  });

  it("returns the digest of the bytes sent, warning when the registry reports another", async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };
    const reg = await serve((_req, res) =>
      res.writeHead(201, { "docker-content-digest": sha256("other") }).end(),
    );
    const digest = await putManifest(http(), reg.host, "org/app", "v1", MANIFEST, INDEX_TYPE, { logger });
    assert.equal(digest, sha256(MANIFEST));
    assert.deepEqual(warnings, ["registry reports a different manifest digest than the bytes sent"]);
    const put = reg.requests[0]!;
    assert.equal(put.url, "/v2/org/app/manifests/v1");
    assert.equal(put.headers["content-type"], INDEX_TYPE);
    assert.deepEqual(put.body, MANIFEST);
  });
});
