/**
 * Network faults between `pull` and a real registry, injected by a proxy: transient errors are retried (with
 * Retry-After honoured), a body cut short is resumed with Range, a corrupted body is fetched again, and
 * permanent corruption fails with DataLoss and leaves no bad blob in the store.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ShimError, sha256 } from "../src/internal/index.js";
import { buildImage } from "../src/oci/build/build.js";
import { pull } from "../src/oci/pull/pull.js";
import type { PullEvent } from "../src/oci/store/pull-types.js";
import { type FaultProxy, type FaultRule, startFaultProxy } from "./harness/fault-proxy.js";
import { bigModule, helloModule } from "./harness/modules.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { bytesFigure, recordFigures } from "./harness/reliability.js";
import { checkStore } from "./harness/store-check.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm");
const SIZE = 512 * 1024;

describe("pull through faults", { skip: skip ?? false }, () => {
  let registry: Registry;
  let proxy: FaultProxy;
  const roots: string[] = [];
  /** The raw-layer image: its one layer is the module itself, so body offsets are module offsets. */
  let module: Buffer;
  let layerDigest: string;
  let tarModule: Buffer;
  let layerPath: RegExp;
  const manifestPath = /\/manifests\//;

  before(async () => {
    registry = await startRegistry();
    module = bigModule("hello through faults", SIZE);
    layerDigest = sha256(module);
    layerPath = new RegExp(`/blobs/${layerDigest}$`);
    await pushBuilt(registry.host, "faults/raw:v1", buildImage({ module, format: "artifact" }));
    tarModule = helloModule("hello through faults, in a tar");
    await pushBuilt(registry.host, "faults/tar:v1", buildImage({ module: tarModule, format: "image" }));
    proxy = await startFaultProxy(registry.host);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  });

  /** Pulls `repoTag` through the proxy with `rules`, into a fresh store. */
  const pullWith = async (rules: FaultRule[], repoTag = "faults/raw:v1", signal?: AbortSignal) => {
    proxy.setRules(rules);
    const root = await mkdtemp(join(tmpdir(), "nodewasi-store-"));
    roots.push(root);
    const events: PullEvent[] = [];
    const first = proxy.requests.length;
    const run = pull(`${proxy.host}/${repoTag}`, {
      root,
      plainHttp: true,
      onEvent: (e) => events.push(e),
      ...(signal ? { signal } : {}),
    });
    return { run, root, events, requests: () => proxy.requests.slice(first) };
  };

  const assertModule = async (path: string, want: Buffer) => {
    const got = await readFile(path);
    assert.equal(sha256(got), sha256(want));
  };

  test("500 on the manifest, then 502 and 503 on the blob: retried, pulled", async (t) => {
    const p = await pullWith([
      { method: "GET", path: manifestPath, fault: { kind: "status", status: 500 } },
      { method: "GET", path: layerPath, occurrences: [1, 2], fault: { kind: "status", status: 502 } },
      { method: "GET", path: layerPath, occurrences: [1], fault: { kind: "status", status: 503 } },
    ]);
    const result = await p.run;
    await assertModule(result.module.path, module);
    assert.ok(proxy.injected[0] === 1 && proxy.injected[1] === 2, `faults injected: ${proxy.injected}`);
    await checkStore(p.root);
    recordFigures(t, {
      "faults injected": proxy.total(),
      statuses: "500, 502, 502, 503",
      bytes: bytesFigure(SIZE),
    });
  });

  test("429 with Retry-After: 1 is waited out", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, fault: { kind: "status", status: 429, retryAfter: 1 } },
    ]);
    const t0 = Date.now();
    const result = await p.run;
    assert.ok(Date.now() - t0 >= 900, `waited ${Date.now() - t0} ms, Retry-After said 1 s`);
    await assertModule(result.module.path, module);
    assert.equal(proxy.total(), 1);
    recordFigures(t, { "faults injected": 1, "Retry-After": "1 s (waited)", bytes: bytesFigure(SIZE) });
  });

  test("a connection reset mid-blob is resumed and the blob verifies", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, fault: { kind: "reset", afterBytes: 200_000 } },
    ]);
    const result = await p.run;
    await assertModule(result.module.path, module);
    assert.equal(proxy.total(), 1);
    const retry = p.events.find((e) => e.type === "blob-retry" && e.digest === layerDigest);
    assert.ok(retry, "a blob-retry event was reported");
    const gets = p.requests().filter((r) => r.method === "GET" && layerPath.test(r.path));
    assert.ok(gets.length >= 2, "the blob was requested again");
    await checkStore(p.root);
    recordFigures(t, { "faults injected": 1, "reset after": "200000 bytes", bytes: bytesFigure(SIZE) });
  });

  test("a truncated body is resumed with Range from where it stopped", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, fault: { kind: "truncate", afterBytes: 300_000 } },
    ]);
    const result = await p.run;
    await assertModule(result.module.path, module);
    const gets = p.requests().filter((r) => r.method === "GET" && layerPath.test(r.path));
    assert.ok(gets.length >= 2);
    const resumed = gets.slice(1).find((r) => r.range);
    assert.ok(resumed, `a Range request followed the cut: ${JSON.stringify(gets)}`);
    const start = Number(/bytes=(\d+)-/.exec(resumed.range ?? "")?.[1]);
    assert.ok(start > 0 && start <= 300_000, `resumed from ${start}`);
    const retry = p.events.find((e) => e.type === "blob-retry");
    assert.ok(
      retry?.type === "blob-retry" && retry.offset === start,
      "the retry event reports the resume offset",
    );
    const startEv = p.events.filter((e) => e.type === "blob-start" && e.digest === layerDigest);
    assert.ok(startEv.length >= 1);
    await checkStore(p.root);
    recordFigures(t, {
      "faults injected": 1,
      "cut after": "300000 bytes",
      resumed: "with Range",
      bytes: bytesFigure(SIZE),
    });
  });

  test("a byte flipped once is detected and the blob fetched again", async (t) => {
    const p = await pullWith([{ method: "GET", path: layerPath, fault: { kind: "flip", offset: 123_456 } }]);
    const result = await p.run;
    await assertModule(result.module.path, module);
    assert.equal(proxy.total(), 1);
    const gets = p.requests().filter((r) => r.method === "GET" && layerPath.test(r.path));
    assert.ok(gets.length >= 2, "fetched again after the digest mismatch");
    assert.ok(
      !gets[1]?.range || gets[1].range === "bytes=0-",
      "a corrupt download restarts from 0, not resumed",
    );
    await checkStore(p.root);
    recordFigures(t, { "faults injected": 1, "byte flipped at": 123456, bytes: bytesFigure(SIZE) });
  });

  test("a byte flipped in a gzip tar layer is detected too", async (t) => {
    const p = await pullWith(
      [{ method: "GET", path: /\/blobs\/sha256:/, occurrences: [2], fault: { kind: "flip", offset: 20 } }],
      "faults/tar:v1",
    );
    const result = await p.run;
    await assertModule(result.module.path, tarModule);
    assert.equal(proxy.total(), 1);
    await checkStore(p.root);
    recordFigures(t, { "faults injected": 1, "byte flipped at": 20, layer: "gzip tar" });
  });

  test("permanent corruption: DataLoss naming the digest, and no bad blob stored", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, occurrences: "all", fault: { kind: "flip", offset: 4242 } },
    ]);
    await assert.rejects(p.run, (err: unknown) => {
      assert.ok(err instanceof ShimError, `want a ShimError, got ${String(err)}`);
      assert.equal(Code[err.code], Code[Code.DataLoss], err.message);
      assert.ok(err.message.includes(layerDigest), `names the digest: ${err.message}`);
      return true;
    });
    const store = await checkStore(p.root);
    assert.ok(!store.blobs.includes(layerDigest.slice(7)), "the corrupt blob is not in blobs/");
    const attempts = p.requests().filter((r) => r.method === "GET" && layerPath.test(r.path)).length;
    assert.ok(attempts >= 2 && attempts <= 10, `bounded retries (${attempts})`);
    assert.ok(
      !(await readdir(p.root, { recursive: true })).some((f) => String(f).endsWith(".wasm")),
      "no module extracted",
    );
    recordFigures(t, { "faults injected": "every attempt", "bad blobs stored": 0, error: "DataLoss" });
  });

  test("a blob the registry does not have is NotFound, without retries", async () => {
    const p = await pullWith([
      { method: "GET", path: layerPath, occurrences: "all", fault: { kind: "status", status: 404 } },
    ]);
    await assert.rejects(p.run, (err: unknown) => {
      assert.ok(err instanceof ShimError);
      assert.equal(Code[err.code], Code[Code.NotFound], err.message);
      return true;
    });
    assert.equal(proxy.injected[0], 1, "404 is not retried");
  });

  test("a registry that stays unavailable fails with Unavailable after bounded retries", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, occurrences: "all", fault: { kind: "status", status: 503 } },
    ]);
    const t0 = Date.now();
    await assert.rejects(p.run, (err: unknown) => {
      assert.ok(err instanceof ShimError);
      assert.equal(Code[err.code], Code[Code.Unavailable], err.message);
      assert.ok(err.temporary, "marked temporary");
      return true;
    });
    // Retry layers must not multiply: a client retrying 5 times inside a fetch loop retrying 5 times makes 25
    // requests and ~10 s before a dead registry is reported. containerd and oras-go make 5 attempts in all.
    const attempts = proxy.injected[0] ?? 0;
    assert.ok(attempts >= 2 && attempts <= 10, `${attempts} attempts at the blob; want 2..10`);
    assert.ok(Date.now() - t0 < 30_000);
    recordFigures(t, {
      "faults injected": "every attempt (503)",
      attempts: "2..10 (held)",
      error: "Unavailable",
    });
  });

  test("a slow body arrives whole, late", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, fault: { kind: "slow", chunkBytes: 64 * 1024, delayMs: 50 } },
    ]);
    const t0 = Date.now();
    const result = await p.run;
    assert.ok(Date.now() - t0 >= 300, "the body really came slowly");
    await assertModule(result.module.path, module);
    assert.equal(proxy.total(), 1);
    await checkStore(p.root);
    recordFigures(t, { "faults injected": 1, pace: "64 KiB per 50 ms", bytes: bytesFigure(SIZE) });
  });

  test("a slow body is cancelled by the caller's signal", async (t) => {
    const p = await pullWith(
      [{ method: "GET", path: layerPath, fault: { kind: "slow", chunkBytes: 4096, delayMs: 100 } }],
      "faults/raw:v1",
      AbortSignal.timeout(500),
    );
    const t0 = Date.now();
    await assert.rejects(p.run, (err: unknown) => {
      assert.ok(err instanceof ShimError, String(err));
      assert.ok(err.code === Code.Canceled || err.code === Code.DeadlineExceeded, err.message);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000, "stopped promptly");
    recordFigures(t, {
      "faults injected": 1,
      pace: "4 KiB per 100 ms",
      "cancelled after": "500 ms",
      stopped: "< 5 s (held)",
    });
    await checkStore(p.root).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
  });
});
