/**
 * `pull` against a real registry (distribution 2.8.2): every fixture format and platform case pulls, and its
 * module is byte for byte the one that was packaged; refused images fail with a clear reason; a second pull
 * fetches nothing; the store stays consistent.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ShimError, sha256 } from "../src/internal/index.js";
import { pull } from "../src/oci/pull/pull.js";
import type { PullEvent } from "../src/oci/store/pull-types.js";
import { allFixtures, type Fixture, pushFixtures } from "./harness/fixtures.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { checkStore } from "./harness/store-check.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm", "zstd");
const fixtures: Fixture[] = skip ? [] : allFixtures();

describe("pull from a registry", { skip: skip ?? false }, () => {
  let registry: Registry;
  const roots: string[] = [];
  const newRoot = async () => {
    const root = await mkdtemp(join(tmpdir(), "nodewasi-store-"));
    roots.push(root);
    return root;
  };

  before(async () => {
    registry = await startRegistry();
    await pushFixtures(registry.host, fixtures);
  });
  after(async () => {
    await registry?.stop();
    await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  });

  for (const fixture of fixtures) {
    test(fixture.repoTag, async () => {
      const root = await newRoot();
      const ref = `${registry.host}/${fixture.repoTag}`;
      const expect = fixture.expect;
      if ("error" in expect) {
        await assert.rejects(pull(ref, { root, plainHttp: true }), (err: unknown) => {
          assert.ok(err instanceof ShimError, `want a ShimError, got ${String(err)}`);
          if (expect.error.code >= 0) assert.equal(Code[err.code], Code[expect.error.code], err.message);
          assert.match(err.message, expect.error.message);
          assert.ok(
            err.message.includes(fixture.repoTag.split(":")[0] ?? ""),
            `message names the image: ${err.message}`,
          );
          return true;
        });
        await checkStore(root).catch(() => undefined);
        return;
      }
      const result = await pull(ref, { root, plainHttp: true });
      assert.equal(result.module.digest, expect.digest, "module digest");
      const bytes = await readFile(result.module.path);
      assert.equal(sha256(bytes), expect.digest, "module file on disk");
      assert.ok(bytes.equals(expect.module));
      assert.equal(result.module.size, expect.module.length);
      assert.equal(result.module.kind, "module");
      assert.equal(`${result.platform.os}/${result.platform.architecture}`, expect.platform);
      if (expect.format) assert.equal(result.format, expect.format);
      if (expect.entrypoint) assert.deepEqual(result.entrypoint, expect.entrypoint);
      assert.equal(result.digest, fixture.built.manifest.digest, "digest of what the tag resolved to");
      assert.ok(result.bytesFetched > 0);
      const store = await checkStore(root);
      assert.ok(store.blobs.includes(result.manifest.digest.slice(7)), "the chosen manifest is stored");
      assert.ok(
        store.index.manifests.some((m) => m.annotations?.["io.containerd.image.name"] === result.name),
        `index.json names ${result.name}`,
      );
    });
  }

  test("a second pull fetches and extracts nothing", async () => {
    const root = await newRoot();
    const ref = `${registry.host}/formats/image:v1`;
    const first = await pull(ref, { root, plainHttp: true });
    const events: PullEvent[] = [];
    const second = await pull(ref, { root, plainHttp: true, onEvent: (e) => events.push(e) });
    assert.equal(second.module.digest, first.module.digest);
    assert.equal(second.module.path, first.module.path);
    assert.equal(second.bytesFetched, 0);
    const extracted = events.find((e) => e.type === "extracted");
    assert.ok(
      extracted && extracted.type === "extracted" && extracted.cached,
      "extraction reported as cached",
    );
    for (const e of events)
      if (e.type === "blob-done") assert.ok(e.cached, `blob ${e.digest} was fetched again`);
  });

  test("events: resolved, selected, blobs and extracted, in order", async () => {
    const root = await newRoot();
    const fixture = fixtures.find((f) => f.repoTag === "platforms/multi:v1");
    assert.ok(fixture);
    const events: PullEvent[] = [];
    const result = await pull(`${registry.host}/${fixture.repoTag}`, {
      root,
      plainHttp: true,
      onEvent: (e) => events.push(e),
    });
    const types = events.map((e) => e.type);
    assert.equal(types[0], "resolved");
    assert.ok(types.indexOf("selected") > 0);
    assert.equal(types.at(-1), "extracted");
    const selected = events.find((e) => e.type === "selected");
    assert.ok(selected?.type === "selected");
    assert.equal(selected.manifest.digest, result.manifest.digest);
    for (const layer of selected.layers) {
      assert.ok(
        events.some((e) => e.type === "blob-done" && e.digest === layer.digest && e.size === layer.size),
        `layer ${layer.digest} reported done`,
      );
    }
  });

  test("pull by digest verifies and resolves the same module", async () => {
    const root = await newRoot();
    const fixture = fixtures.find((f) => f.repoTag === "platforms/docker-list:v1");
    assert.ok(fixture && "module" in fixture.expect);
    const result = await pull(`${registry.host}/platforms/docker-list@${fixture.built.manifest.digest}`, {
      root,
      plainHttp: true,
    });
    assert.equal(result.digest, fixture.built.manifest.digest);
    assert.equal(result.module.digest, fixture.expect.digest);
  });

  test("--platform overrides the preference for wasip1", async () => {
    const root = await newRoot();
    const fixture = fixtures.find((f) => f.repoTag === "platforms/prefer-wasip1:v1");
    assert.ok(fixture && "module" in fixture.expect);
    const result = await pull(`${registry.host}/${fixture.repoTag}`, {
      root,
      plainHttp: true,
      platform: { os: "wasi", architecture: "wasm" },
    });
    assert.equal(result.platform.os, "wasi");
    assert.notEqual(
      result.module.digest,
      fixture.expect.digest,
      "the wasi entry, not the preferred wasip1 one",
    );
    assert.equal(sha256(await readFile(result.module.path)), result.module.digest);
  });

  test("an unknown tag is NotFound and names the reference", async () => {
    const root = await newRoot();
    await assert.rejects(
      pull(`${registry.host}/formats/image:no-such-tag`, { root, plainHttp: true }),
      (err) => {
        assert.ok(err instanceof ShimError);
        assert.equal(Code[err.code], Code[Code.NotFound]);
        assert.match(err.message, /formats\/image/);
        return true;
      },
    );
  });
});
