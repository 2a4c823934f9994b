/**
 * Manifests a real registry refuses to store, served by a fake registry: each pull fails with a clear error
 * that names the image and says what is wrong, and nothing is stored under a tag.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ShimError } from "../src/internal/index.js";
import { MediaType } from "../src/oci/image/media-types.js";
import { pull } from "../src/oci/pull/pull.js";
import { type FakeRegistry, startFakeRegistry } from "./harness/fake-registry.js";

interface Case {
  name: string;
  body: Buffer;
  contentType: string;
  code: Code;
  message: RegExp;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe("pull refuses bad manifests", () => {
  let fake: FakeRegistry;
  const roots: string[] = [];
  let cases: Case[] = [];

  before(async () => {
    fake = await startFakeRegistry();
    const layer = fake.blob("bad/image", Buffer.from("\0asm\x01\0\0\0"));
    const config = fake.blob("bad/image", json({ architecture: "wasm", os: "wasip1" }));
    const layerDesc = { mediaType: MediaType.Wasm, digest: layer, size: 8 };
    const configDesc = { mediaType: MediaType.WasmConfigV0, digest: config, size: 36 };
    cases = [
      {
        name: "invalid-json",
        body: Buffer.from('{"schemaVersion": 2, "config": '),
        contentType: MediaType.OciManifest,
        code: Code.InvalidArgument,
        message: /not valid JSON/i,
      },
      {
        name: "schema1",
        body: json({
          schemaVersion: 1,
          name: "bad/image",
          tag: "schema1",
          architecture: "amd64",
          fsLayers: [],
          history: [],
        }),
        contentType: MediaType.DockerSchema1Signed,
        code: Code.FailedPrecondition,
        message: /schema ?1|v1\+prettyjws/i,
      },
      {
        name: "schema1-unsigned",
        body: json({ schemaVersion: 1, name: "bad/image", tag: "x", fsLayers: [], history: [] }),
        contentType: MediaType.OciManifest,
        code: Code.FailedPrecondition,
        message: /schema ?1/i,
      },
      {
        name: "mismatch",
        body: json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }),
        contentType: MediaType.OciManifest,
        code: Code.InvalidArgument,
        message: /mediaType.*index.*served as.*manifest/is,
      },
      {
        name: "oversized",
        body: json({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: configDesc,
          layers: [layerDesc],
          annotations: { padding: "x".repeat(4 * 1024 * 1024 + 10) },
        }),
        contentType: MediaType.OciManifest,
        code: Code.ResourceExhausted,
        message: /limit|too large|bytes/i,
      },
      {
        name: "no-config",
        body: json({ schemaVersion: 2, mediaType: MediaType.OciManifest, layers: [layerDesc] }),
        contentType: MediaType.OciManifest,
        code: Code.InvalidArgument,
        message: /config/i,
      },
      {
        name: "schema-version-3",
        body: json({
          schemaVersion: 3,
          mediaType: MediaType.OciManifest,
          config: configDesc,
          layers: [layerDesc],
        }),
        contentType: MediaType.OciManifest,
        code: Code.InvalidArgument,
        message: /schemaVersion/,
      },
    ];
    for (const c of cases) fake.manifest("bad/image", c.name, { body: c.body, contentType: c.contentType });
  });
  after(async () => {
    await fake.stop();
    await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  });

  const names = [
    "invalid-json",
    "schema1",
    "schema1-unsigned",
    "mismatch",
    "oversized",
    "no-config",
    "schema-version-3",
  ];
  for (const name of names) {
    test(name, async () => {
      const c = cases.find((x) => x.name === name);
      assert.ok(c);
      const root = await mkdtemp(join(tmpdir(), "nodewasi-store-"));
      roots.push(root);
      await assert.rejects(
        pull(`${fake.host}/bad/image:${name}`, { root, plainHttp: true }),
        (err: unknown) => {
          assert.ok(err instanceof ShimError, `want a ShimError, got ${String(err)}`);
          assert.equal(Code[err.code], Code[c.code], err.message);
          assert.match(err.message, c.message);
          assert.match(err.message, /bad\/image/, "the message names the image");
          return true;
        },
      );
      const index = await readFile(join(root, "index.json"), "utf8").catch(() => '{"manifests":[]}');
      assert.equal((JSON.parse(index) as { manifests: unknown[] }).manifests.length, 0, "nothing tagged");
    });
  }

  test("a well-formed manifest on the same fake registry pulls (the fake is not the fault)", async () => {
    const module = Buffer.from("\0asm\x01\0\0\0");
    const layer = fake.blob("good/artifact", module);
    const config = fake.blob(
      "good/artifact",
      json({ architecture: "wasm", os: "wasip1", layerDigests: [layer], component: null }),
    );
    const body = json({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: {
        mediaType: MediaType.WasmConfigV0,
        digest: config,
        size: json({ architecture: "wasm", os: "wasip1", layerDigests: [layer], component: null }).length,
      },
      layers: [{ mediaType: MediaType.Wasm, digest: layer, size: module.length }],
    });
    fake.manifest("good/artifact", "v1", { body, contentType: MediaType.OciManifest });
    const root = await mkdtemp(join(tmpdir(), "nodewasi-store-"));
    roots.push(root);
    const result = await pull(`${fake.host}/good/artifact:v1`, { root, plainHttp: true });
    assert.ok((await readFile(result.module.path)).equals(module));
  });
});
