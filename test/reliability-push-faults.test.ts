/**
 * Registry faults during push (issue 6, item 2), against the push primitives of src/oci/registry/push-protocol.ts
 * (`RegistryClient.uploadBlob` and `putManifest`) through the fault proxy in front of a real registry: 5xx and
 * 429 are retried, a connection reset during an upload and an answer lost after the blob landed are recovered,
 * a corrupted upload is refused by the registry and nothing is stored under its digest, a slow upload
 * completes, and a failed PATCH chunk is reported rather than resent blindly. What was pushed is then pulled
 * straight from the registry (not through the proxy) and verified.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ShimError, sha256 } from "../src/internal/index.js";
import { buildImage } from "../src/oci/build/build.js";
import { pull } from "../src/oci/pull/pull.js";
import { anonymous, RegistryClient } from "../src/oci/registry/index.js";
import { type FaultProxy, type FaultRule, startFaultProxy } from "./harness/fault-proxy.js";
import { bigModule } from "./harness/modules.js";
import type { Built } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { bytesFigure, recordFigures } from "./harness/reliability.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm");
const SIZE = 512 * 1024;
const uploadPut = /\/blobs\/uploads\/.*digest=/;
const uploadPost = /\/blobs\/uploads\/$/;

describe("push through faults", { skip: skip ?? false }, () => {
  let registry: Registry;
  let proxy: FaultProxy;
  let client: RegistryClient;
  const roots: string[] = [];
  let n = 0;

  before(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    client = new RegistryClient({ credentials: anonymous, retry: { baseMs: 20, maxMs: 200 } });
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  });

  /** A fresh image (its own module bytes, so no blob is already in the registry) and its repository. */
  const fresh = () => {
    const module = bigModule(`pushed through faults ${++n}`, SIZE);
    return { module, built: buildImage({ module, format: "artifact" }) as Built, repo: `faults/push${n}` };
  };

  /** Pushes every blob, then the manifest as `v1`, through the proxy with `rules`. */
  const pushWith = async (rules: FaultRule[], image: ReturnType<typeof fresh>, chunkSize?: number) => {
    proxy.setRules(rules);
    const top = image.built.manifest;
    for (const [digest, data] of image.built.blobs) {
      if (digest === top.digest) continue;
      await client.uploadBlob(proxy.host, image.repo, { digest, size: data.length }, data, {
        ...(chunkSize ? { chunkSize } : {}),
      });
    }
    const bytes = image.built.blobs.get(top.digest)!;
    return client.putManifest(proxy.host, image.repo, "v1", bytes, top.mediaType);
  };

  /** Pulls `repo:v1` straight from the registry and checks the module bytes. */
  const verify = async (image: ReturnType<typeof fresh>) => {
    const root = await mkdtemp(join(tmpdir(), "nodewasi-store-"));
    roots.push(root);
    const result = await pull(`${registry.host}/${image.repo}:v1`, { root, plainHttp: true });
    assert.equal(sha256(await readFile(result.module.path)), sha256(image.module));
  };

  test("5xx on the upload start, the blob PUT and the manifest PUT: retried, pushed", async (t) => {
    const image = fresh();
    await pushWith(
      [
        { method: "POST", path: uploadPost, fault: { kind: "status", status: 500 } },
        { method: "PUT", path: uploadPut, occurrences: [1, 2], fault: { kind: "status", status: 502 } },
        { method: "PUT", path: /\/manifests\//, fault: { kind: "status", status: 503 } },
      ],
      image,
    );
    assert.equal(proxy.total(), 4, `faults injected: ${proxy.injected}`);
    await verify(image);
    recordFigures(t, { "faults injected": 4, statuses: "500, 502, 502, 503", bytes: bytesFigure(SIZE) });
  });

  test("429 with Retry-After: 1 on the blob PUT is waited out", async (t) => {
    const image = fresh();
    const t0 = Date.now();
    await pushWith(
      [{ method: "PUT", path: uploadPut, fault: { kind: "status", status: 429, retryAfter: 1 } }],
      image,
    );
    assert.ok(Date.now() - t0 >= 900, `waited ${Date.now() - t0} ms, Retry-After said 1 s`);
    assert.equal(proxy.total(), 1);
    await verify(image);
    recordFigures(t, { "faults injected": 1, "Retry-After": "1 s (waited)", bytes: bytesFigure(SIZE) });
  });

  test("a connection reset while the blob is uploaded: retried in a new session, pushed", async (t) => {
    const image = fresh();
    await pushWith(
      [
        {
          method: "PUT",
          path: uploadPut,
          fault: { kind: "reset-request", afterBytes: 200_000 },
        },
      ],
      image,
    );
    assert.equal(proxy.total(), 1);
    await verify(image);
    recordFigures(t, { "faults injected": 1, "reset after": "200000 bytes sent", bytes: bytesFigure(SIZE) });
  });

  test("an answer cut short after the blob landed: the retry finds it, pushed", async (t) => {
    const image = fresh();
    await pushWith([{ method: "PUT", path: uploadPut, fault: { kind: "drop-response" } }], image);
    assert.equal(proxy.total(), 1);
    await verify(image);
    recordFigures(t, {
      "faults injected": 1,
      "answer lost": "201 of the blob PUT",
      bytes: bytesFigure(SIZE),
    });
  });

  test("a byte flipped in the uploaded blob: the registry refuses it, nothing is stored under the digest", async (t) => {
    const image = fresh();
    const layer = [...image.built.blobs].find(([, b]) => b.length >= SIZE)!;
    await assert.rejects(
      pushWith(
        [
          {
            method: "PUT",
            path: uploadPut,
            occurrences: "all",
            fault: { kind: "flip-request", offset: 4242 },
          },
        ],
        image,
      ),
      (err: unknown) => {
        assert.ok(err instanceof ShimError, String(err));
        assert.ok(err.message.includes(layer[0]), `names the digest: ${err.message}`);
        return true;
      },
    );
    const head = await fetch(`http://${registry.host}/v2/${image.repo}/blobs/${layer[0]}`, {
      method: "HEAD",
    });
    assert.equal(head.status, 404, "no blob stored under the digest");
    // Without the fault the same push goes through.
    await pushWith([], image);
    await verify(image);
    recordFigures(t, {
      "faults injected": "every attempt",
      "blobs stored under the digest": 0,
      "push after the fault": "succeeded",
    });
  });

  test("a slow upload arrives whole", async (t) => {
    const image = fresh();
    const t0 = Date.now();
    await pushWith(
      [
        {
          method: "PUT",
          path: uploadPut,
          fault: { kind: "slow-request", chunkBytes: 64 * 1024, delayMs: 50 },
        },
      ],
      image,
    );
    assert.ok(Date.now() - t0 >= 300, "the body really went slowly");
    await verify(image);
    recordFigures(t, { "faults injected": 1, pace: "64 KiB per 50 ms", bytes: bytesFigure(SIZE) });
  });

  test("PATCH chunks with a 503 on one chunk: not resent blindly, a clear error", async (t) => {
    const image = fresh();
    await assert.rejects(
      pushWith(
        [
          {
            method: "PATCH",
            path: /\/blobs\/uploads\//,
            occurrences: [2],
            fault: { kind: "status", status: 503 },
          },
        ],
        image,
        128 * 1024,
      ),
      (err: unknown) => {
        assert.ok(err instanceof ShimError, String(err));
        assert.equal(Code[err.code], Code[Code.Unavailable], err.message);
        assert.match(err.message, /upload of blob sha256:/);
        return true;
      },
    );
    const patches = proxy.requests.filter((r) => r.method === "PATCH" && r.fault === "status");
    assert.equal(patches.length, 1, "the failed chunk was not resent");
    await pushWith([], image, 128 * 1024);
    await verify(image);
    recordFigures(t, {
      "faults injected": 1,
      chunks: `${SIZE / (128 * 1024)} of 128 KiB`,
      "push after the fault": "succeeded",
    });
  });
});
