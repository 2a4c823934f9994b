import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "../../internal/index.js";
import type { ImageIndex, ImageManifest } from "../image/index.js";
import { MediaType } from "../image/index.js";
import { type BuiltImage, buildImage } from "./build.js";
import { buildIndex, IN_TOTO_MEDIA_TYPE } from "./build-index.js";

const MODULE = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

function json<T>(img: BuiltImage, digest = img.manifest.digest): T {
  const b = img.blobs.get(digest);
  assert.ok(b, `blob ${digest} present`);
  return JSON.parse(b.toString()) as T;
}

describe("buildIndex", () => {
  const wasm = buildImage({ module: MODULE, format: "image" });
  const amd = buildImage({ module: MODULE, format: "compat" });

  it("lists entries in order with their platforms, overrides and annotations, and carries all blobs", () => {
    const idx = buildIndex([
      { image: amd },
      { image: wasm, annotations: { a: "b" } },
      { image: wasm, platform: { architecture: "wasm32", os: "wasi" } },
      { image: wasm, platform: null },
    ]);
    assert.equal(idx.manifest.mediaType, MediaType.OciIndex);
    assert.equal(idx.manifest.platform, undefined);
    const index = json<ImageIndex>(idx);
    assert.equal(index.mediaType, MediaType.OciIndex);
    assert.deepEqual(
      index.manifests.map((m) => [m.digest, m.platform ?? null, m.annotations ?? null]),
      [
        [amd.manifest.digest, { architecture: "amd64", os: "linux" }, null],
        [wasm.manifest.digest, { architecture: "wasm", os: "wasip1" }, { a: "b" }],
        [wasm.manifest.digest, { architecture: "wasm32", os: "wasi" }, null],
        [wasm.manifest.digest, null, null],
      ],
    );
    for (const d of [...wasm.blobs.keys(), ...amd.blobs.keys()]) assert.ok(idx.blobs.has(d));
    for (const [d, b] of idx.blobs) assert.equal(sha256(b), d);
    assert.equal(
      buildIndex([{ image: amd }, { image: wasm }]).manifest.digest,
      buildIndex([{ image: amd }, { image: wasm }]).manifest.digest,
    );
  });

  it("writes a Docker manifest list when asked", () => {
    const docker = buildImage({ module: MODULE, format: "docker" });
    const list = buildIndex([{ image: docker }], { docker: true });
    assert.equal(list.manifest.mediaType, MediaType.DockerManifestList);
    const index = json<ImageIndex>(list);
    assert.equal(index.mediaType, MediaType.DockerManifestList);
    assert.equal(index.manifests[0]?.mediaType, MediaType.DockerManifest);
  });

  it("appends a buildx-style attestation for a subject", () => {
    const idx = buildIndex([{ image: wasm }], { attestationFor: wasm });
    const index = json<ImageIndex>(idx);
    assert.equal(index.manifests.length, 2);
    const att = index.manifests[1];
    assert.ok(att);
    assert.equal(att.mediaType, MediaType.OciManifest);
    assert.deepEqual(att.platform, { architecture: "unknown", os: "unknown" });
    assert.deepEqual(att.annotations, {
      "vnd.docker.reference.digest": wasm.manifest.digest,
      "vnd.docker.reference.type": "attestation-manifest",
    });
    const m = json<ImageManifest>(idx, att.digest);
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0]?.mediaType, IN_TOTO_MEDIA_TYPE);
    const config = json<{ architecture: string; os: string }>(idx, m.config.digest);
    assert.deepEqual([config.architecture, config.os], ["unknown", "unknown"]);
    const statement = json<{ subject: { digest: { sha256: string } }[] }>(idx, m.layers[0]?.digest);
    assert.equal(statement.subject[0]?.digest.sha256, wasm.manifest.digest.slice(7));
  });

  it("nests an index inside an index", () => {
    const inner = buildIndex([{ image: wasm }], { annotations: { inner: "1" } });
    const outer = buildIndex([{ image: amd }, { image: inner }]);
    const index = json<ImageIndex>(outer);
    assert.deepEqual(
      index.manifests.map((m) => [m.mediaType, m.digest]),
      [
        [MediaType.OciManifest, amd.manifest.digest],
        [MediaType.OciIndex, inner.manifest.digest],
      ],
    );
    assert.deepEqual(json<ImageIndex>(outer, inner.manifest.digest).annotations, { inner: "1" });
    assert.ok(outer.blobs.has(wasm.manifest.digest));
  });
});
