/**
 * Two processes pulling the same image into the same store at the same time both succeed, agree on the
 * module, and leave a consistent store: every blob hashes to its name and index.json is valid, with one entry
 * per name.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { sha256 } from "../src/internal/index.js";
import { buildImage } from "../src/oci/build/build.js";
import type { PullResult } from "../src/oci/store/pull-types.js";
import { type FaultProxy, startFaultProxy } from "./harness/fault-proxy.js";
import { bigModule, helloModule } from "./harness/modules.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { checkStore } from "./harness/store-check.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm");
const CHILD = join(dirname(fileURLToPath(import.meta.url)), "harness", "pull-child.js");

function pullInChild(ref: string, root: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHILD, ref, root], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr });
    });
  });
}

describe("concurrent pulls into one store", { skip: skip ?? false }, () => {
  let registry: Registry;
  let proxy: FaultProxy;
  const roots: string[] = [];
  let rawModule: Buffer;
  let tarModule: Buffer;

  before(async () => {
    registry = await startRegistry();
    rawModule = bigModule("hello from a concurrent pull", 1024 * 1024);
    tarModule = helloModule("hello from a concurrent tar pull");
    await pushBuilt(
      registry.host,
      "concurrent/raw:v1",
      buildImage({ module: rawModule, format: "artifact" }),
    );
    await pushBuilt(registry.host, "concurrent/tar:v1", buildImage({ module: tarModule, format: "image" }));
    // Slow blob bodies so that both processes are downloading the same blob at the same time.
    proxy = await startFaultProxy(registry.host, [
      {
        method: "GET",
        path: /\/blobs\//,
        occurrences: "all",
        fault: { kind: "slow", chunkBytes: 128 * 1024, delayMs: 20 },
      },
    ]);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  });

  for (const [repoTag, want] of [
    ["concurrent/raw:v1", () => rawModule],
    ["concurrent/tar:v1", () => tarModule],
  ] as const) {
    test(`${repoTag}: both processes succeed and the store is consistent`, async () => {
      const root = await mkdtemp(join(tmpdir(), "nodewasi-store-"));
      roots.push(root);
      const ref = `${proxy.host}/${repoTag}`;
      const runs = await Promise.all([pullInChild(ref, root), pullInChild(ref, root)]);
      const results = runs.map((r, i) => {
        assert.equal(r.code, 0, `process ${i} failed: ${r.out} ${r.err}`);
        return JSON.parse(r.out) as PullResult;
      });
      const [a, b] = results;
      assert.ok(a && b);
      assert.equal(a.module.digest, sha256(want()));
      assert.equal(b.module.digest, a.module.digest);
      assert.equal(a.module.path, b.module.path);
      assert.equal(sha256(await readFile(a.module.path)), sha256(want()));
      const store = await checkStore(root);
      const named = store.index.manifests.filter(
        (m) => m.annotations?.["io.containerd.image.name"] === a.name,
      );
      assert.equal(named.length, 1, `one index.json entry for ${a.name}: ${JSON.stringify(store.index)}`);
      assert.equal(named[0]?.digest, a.digest);
    });
  }
});
