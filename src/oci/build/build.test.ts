import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { testComponent } from "../../../test/harness/modules.js";
import { readTar } from "../../../test/harness/read-tar.js";
import { type Digest, ShimError, sha256 } from "../../internal/index.js";
import type { Descriptor, ImageConfig, ImageManifest } from "../image/index.js";
import { MediaType } from "../image/index.js";
import {
  type BuiltImage,
  buildImage,
  buildImageAsync,
  EPOCH,
  IMAGE_FORMATS,
  type ImageFormat,
  ORAS_DEFAULT_ARTIFACT_TYPE,
} from "./build.js";

const MODULE = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

function blob(img: BuiltImage, d: Descriptor): Buffer {
  const b = img.blobs.get(d.digest);
  assert.ok(b, `blob ${d.digest} (${d.mediaType}) is in the built image`);
  assert.equal(b.length, d.size);
  return b;
}

function open(img: BuiltImage): { manifest: ImageManifest; config: unknown; raw: Record<string, unknown> } {
  const raw = JSON.parse(blob(img, img.manifest).toString()) as Record<string, unknown>;
  const manifest = raw as unknown as ImageManifest;
  return { manifest, raw, config: JSON.parse(blob(img, manifest.config).toString()) };
}

describe("buildImage", () => {
  for (const format of IMAGE_FORMATS) {
    it(`${format}: is reproducible and self-consistent`, () => {
      const a = buildImage({ module: MODULE, format });
      const b = buildImage({ module: MODULE, format });
      assert.equal(a.manifest.digest, b.manifest.digest);
      assert.deepEqual([...a.blobs.keys()].sort(), [...b.blobs.keys()].sort());
      for (const [d, bytes] of a.blobs) assert.equal(sha256(bytes), d, "blobs are keyed by their digest");
      const { manifest } = open(a);
      assert.equal(manifest.schemaVersion, 2);
      for (const l of manifest.layers) blob(a, l);
      assert.equal(a.blobs.size, 2 + manifest.layers.length, "config, layers and manifest, nothing else");
      assert.deepEqual(
        a.manifest.platform,
        format === "compat" ? { architecture: "amd64", os: "linux" } : { architecture: "wasm", os: "wasip1" },
      );
      const other = buildImage({ module: MODULE, format, created: "2024-01-02T03:04:05Z" });
      const moduleOnly = format === "wasm-to-oci" || format === "runwasi";
      if (!moduleOnly) assert.notEqual(other.manifest.digest, a.manifest.digest, "created is recorded");
      const changed = buildImage({ module: Buffer.concat([MODULE, Buffer.from([0])]), format });
      assert.notEqual(changed.manifest.digest, a.manifest.digest);
    });
  }

  it("image: OCI types, gzip tar layer with the module at the entrypoint, mode 0755, epoch times", async () => {
    const img = buildImage({
      module: MODULE,
      format: "image",
      cmd: ["--flag"],
      env: ["A=1"],
      files: [{ path: "etc/conf", data: Buffer.from("x") }],
      annotations: { "org.example": "yes" },
    });
    const { manifest, raw, config } = open(img);
    assert.equal(img.manifest.mediaType, MediaType.OciManifest);
    assert.equal(raw.mediaType, MediaType.OciManifest);
    assert.deepEqual(manifest.annotations, { "org.example": "yes" });
    assert.equal(manifest.config.mediaType, MediaType.OciConfig);
    assert.equal(manifest.layers.length, 1);
    const layer = manifest.layers[0] as Descriptor;
    assert.equal(layer.mediaType, MediaType.OciLayerGzip);
    const tar = gunzipSync(blob(img, layer));
    assert.deepEqual(config, {
      created: EPOCH,
      architecture: "wasm",
      os: "wasip1",
      config: { Entrypoint: ["/module.wasm"], Cmd: ["--flag"], Env: ["A=1"] },
      rootfs: { type: "layers", diff_ids: [sha256(tar)] },
    });
    const entries = await readTar(tar);
    assert.deepEqual(
      entries.map((e) => [e.header.name, e.header.mode, e.header.uid, e.header.mtime?.getTime()]),
      [
        ["module.wasm", 0o755, 0, 0],
        ["etc/conf", 0o644, 0, 0],
      ],
    );
    assert.deepEqual(entries[0]?.data, MODULE);
  });

  it("image: an uncompressed layer, a custom entrypoint and platform", async () => {
    const img = buildImage({
      module: MODULE,
      format: "image",
      compression: "none",
      entrypoint: "/app/run.wasm",
      platform: { architecture: "wasm", os: "wasi", variant: "v1" },
    });
    const { manifest, config } = open(img);
    const layer = manifest.layers[0] as Descriptor;
    assert.equal(layer.mediaType, MediaType.OciLayer);
    const c = config as ImageConfig;
    assert.deepEqual(
      [c.architecture, c.os, c.variant, c.config?.Entrypoint],
      ["wasm", "wasi", "v1", ["/app/run.wasm"]],
    );
    assert.deepEqual(img.manifest.platform, { architecture: "wasm", os: "wasi", variant: "v1" });
    assert.deepEqual(
      (await readTar(blob(img, layer))).map((e) => e.header.name),
      ["app/run.wasm"],
    );
  });

  it("image: compressLayer replaces the compression and names the media type", () => {
    let seen: Buffer | undefined;
    const img = buildImage({
      module: MODULE,
      format: "image",
      compressLayer: (tar) => {
        seen = tar;
        return { data: gzipSync(tar, { level: 1 }), mediaType: MediaType.OciLayerZstd };
      },
    });
    const { manifest, config } = open(img);
    assert.ok(seen);
    assert.equal(manifest.layers[0]?.mediaType, MediaType.OciLayerZstd);
    assert.deepEqual(
      (config as ImageConfig).rootfs?.diff_ids,
      [sha256(seen)],
      "diff_ids hash the uncompressed tar",
    );
  });

  it("docker: Docker schema2 manifest, config and layer types", () => {
    const img = buildImage({ module: MODULE, format: "docker" });
    const { manifest, raw } = open(img);
    assert.equal(img.manifest.mediaType, MediaType.DockerManifest);
    assert.equal(raw.mediaType, MediaType.DockerManifest);
    assert.equal(manifest.config.mediaType, MediaType.DockerConfig);
    assert.equal(manifest.layers[0]?.mediaType, MediaType.DockerLayerGzip);
    const plain = open(buildImage({ module: MODULE, format: "docker", compression: "none" }));
    assert.equal(plain.manifest.layers[0]?.mediaType, MediaType.DockerLayer);
  });

  it("compat: plugin.wasm, linux/amd64, the variant annotation, and no Entrypoint unless asked", async () => {
    const img = buildImage({ module: MODULE, format: "compat" });
    const { manifest, config } = open(img);
    assert.deepEqual(manifest.annotations, { "module.wasm.image/variant": "compat" });
    const c = config as ImageConfig;
    assert.deepEqual([c.architecture, c.os, c.config], ["amd64", "linux", {}]);
    const layer = manifest.layers[0] as Descriptor;
    assert.equal(layer.mediaType, MediaType.OciLayerGzip);
    assert.deepEqual(
      (await readTar(gunzipSync(blob(img, layer)))).map((e) => e.header.name),
      ["plugin.wasm"],
    );
    const explicit = open(buildImage({ module: MODULE, format: "compat", entrypoint: "/plugin.wasm" }));
    assert.deepEqual((explicit.config as ImageConfig).config?.Entrypoint, ["/plugin.wasm"]);
  });

  it("artifact: the CNCF Wasm OCI Artifact config and one application/wasm layer", () => {
    const img = buildImage({ module: MODULE, format: "artifact" });
    const { manifest, raw, config } = open(img);
    assert.equal(raw.mediaType, MediaType.OciManifest);
    assert.equal(raw.artifactType, undefined);
    assert.equal(manifest.config.mediaType, MediaType.WasmConfigV0);
    assert.deepEqual(manifest.layers, [
      { mediaType: MediaType.Wasm, digest: sha256(MODULE), size: MODULE.length },
    ]);
    assert.deepEqual(config, {
      created: EPOCH,
      author: null,
      architecture: "wasm",
      os: "wasip1",
      layerDigests: [sha256(MODULE)],
      component: null,
    });
  });

  it("wasm-to-oci: no top-level mediaType, config {}, one content layer", () => {
    const img = buildImage({ module: MODULE, format: "wasm-to-oci" });
    const { manifest, raw } = open(img);
    assert.equal("mediaType" in raw, false);
    assert.equal(img.manifest.mediaType, MediaType.OciManifest, "registries serve it as an OCI manifest");
    assert.deepEqual(manifest.config, {
      mediaType: MediaType.WasmToOciConfig,
      digest: EMPTY_JSON_DIGEST,
      size: 2,
    });
    assert.equal(manifest.layers[0]?.mediaType, MediaType.WasmContentLayer);
    assert.deepEqual(blob(img, manifest.layers[0] as Descriptor), MODULE);
  });

  it("runwasi: raw component layer, Entrypoint [name.wasm], the layers label, empty diff_ids", () => {
    const img = buildImage({ module: MODULE, format: "runwasi", entrypoint: "/demo.wasm" });
    const { manifest, config } = open(img);
    assert.equal(manifest.config.mediaType, MediaType.OciConfig);
    assert.deepEqual(manifest.layers, [
      { mediaType: MediaType.RunwasiLayer, digest: sha256(MODULE), size: MODULE.length },
    ]);
    const hex = sha256(MODULE).slice(7);
    assert.deepEqual(config, {
      architecture: "wasm",
      os: "wasip1",
      config: {
        Entrypoint: ["demo.wasm"],
        Labels: { "containerd.runwasi.layers": sha256(hex).slice(7) },
      },
      rootfs: { type: "layers", diff_ids: [] },
    });
  });

  it("oras: empty config, artifactType, raw module in a plain tar-typed layer with a title", () => {
    const img = buildImage({ module: MODULE, format: "oras" });
    const { manifest, raw } = open(img);
    assert.equal(raw.artifactType, ORAS_DEFAULT_ARTIFACT_TYPE);
    assert.deepEqual(manifest.config, { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST, size: 2 });
    assert.deepEqual(manifest.layers, [
      {
        mediaType: MediaType.OciLayer,
        digest: sha256(MODULE),
        size: MODULE.length,
        annotations: { "org.opencontainers.image.title": "module.wasm" },
      },
    ]);
    assert.deepEqual(manifest.annotations, { "org.opencontainers.image.created": EPOCH });
    const typed = open(
      buildImage({ module: MODULE, format: "oras", artifactType: "application/vnd.wasm.module.v1+wasm" }),
    );
    assert.equal(typed.raw.artifactType, "application/vnd.wasm.module.v1+wasm");
  });

  it("extraLayers are appended as given, and counted in an artifact's layerDigests", () => {
    const extra = { mediaType: MediaType.SpinData, data: Buffer.from("data"), annotations: { k: "v" } };
    const img = buildImage({ module: MODULE, format: "artifact", extraLayers: [extra] });
    const { manifest, config } = open(img);
    assert.deepEqual(manifest.layers[1], {
      mediaType: MediaType.SpinData,
      digest: sha256("data"),
      size: 4,
      annotations: { k: "v" },
    });
    assert.deepEqual((config as ImageConfig).layerDigests, [sha256(MODULE), sha256("data")]);
    assert.deepEqual(blob(img, manifest.layers[1] as Descriptor), Buffer.from("data"));
  });

  it("refuses tar options for raw-layer formats and unknown formats with InvalidArgument", () => {
    const bad = (f: () => unknown, re: RegExp) =>
      assert.throws(f, (e: unknown) => e instanceof ShimError && e.code === 3 && re.test(e.message));
    bad(() => buildImage({ module: MODULE, format: "artifact", files: [{ path: "x" }] }), /raw layer/);
    bad(() => buildImage({ module: MODULE, format: "oras", compression: "gzip" }), /raw layer/);
    bad(() => buildImage({ module: MODULE, format: "nope" as "image" }), /unknown image format "nope"/);
  });

  it("keys blobs by digest so identical content is stored once", () => {
    const img = buildImage({
      module: MODULE,
      format: "wasm-to-oci",
      extraLayers: [{ mediaType: "x", data: MODULE }],
    });
    const { manifest } = open(img);
    assert.equal(manifest.layers.length, 2);
    assert.equal(img.blobs.size, 3);
    const digests: Digest[] = manifest.layers.map((l) => l.digest);
    assert.equal(digests[0], digests[1]);
  });

  it("artifact: a component gets os wasip2 and its imports and exports in the config's component field", () => {
    const img = buildImage({ module: testComponent(), format: "artifact" });
    const { config } = open(img);
    assert.deepEqual(img.manifest.platform, { architecture: "wasm", os: "wasip2" });
    assert.deepEqual(config, {
      created: EPOCH,
      author: null,
      architecture: "wasm",
      os: "wasip2",
      layerDigests: [sha256(testComponent())],
      component: {
        exports: ["wasi:cli/run@0.2.0"],
        imports: ["wasi:cli/environment@0.2.0", "wasi:io/streams@0.2.0"],
        target: null,
      },
    });
  });

  it("image and runwasi: workingDir goes into the config as WorkingDir", () => {
    for (const format of ["image", "docker", "compat", "runwasi"] as const) {
      const { config } = open(buildImage({ module: MODULE, format, workingDir: "/app" }));
      assert.equal((config as ImageConfig).config?.WorkingDir, "/app", format);
    }
  });

  it("refuses env, cmd and a working directory for formats without an image config", () => {
    for (const format of ["artifact", "wasm-to-oci", "oras"] as const) {
      for (const extra of [{ env: ["A=1"] }, { cmd: ["x"] }, { workingDir: "/" }]) {
        assert.throws(
          () => buildImage({ module: MODULE, format, ...extra }),
          (e: unknown) => e instanceof ShimError && e.code === 3 && /no image config/.test(e.message),
        );
      }
    }
  });
});

describe("buildImageAsync", () => {
  /** A module over several of pack-layer's 1 MiB pieces, of text and pseudo-random runs, so deflate has work. */
  function largeModule(): Buffer {
    const body = Buffer.alloc(3 * 1024 * 1024 + 777);
    let x = 0x12345678;
    for (let i = 0; i < body.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      body[i] = (i >> 10) % 2 ? x & 0xff : 0x61 + ((x >>> 8) % 4);
    }
    return Buffer.concat([MODULE, body]);
  }

  it("builds buildImage's bytes and digests in every format, with files, env and a custom entrypoint", async () => {
    const module = largeModule();
    const files = [
      { path: "etc/", type: "dir" as const },
      { path: "etc/app.json", data: Buffer.from('{"a":1}') },
    ];
    for (const format of IMAGE_FORMATS) {
      const tar = format === "image" || format === "docker" || format === "compat";
      const opts = {
        module,
        format,
        entrypoint: "/app/main.wasm",
        ...(tar ? { files, env: ["A=1"] } : {}),
      };
      const sync = buildImage(opts);
      const streamed = await buildImageAsync(opts);
      assert.deepEqual(streamed.manifest, sync.manifest, format);
      assert.deepEqual([...streamed.blobs.keys()].sort(), [...sync.blobs.keys()].sort(), format);
      for (const [digest, data] of sync.blobs) assert.ok(streamed.blobs.get(digest)?.equals(data), format);
    }
  });

  it("packs the gzip tar layer whose diff_id is the tar's digest", async () => {
    const module = largeModule();
    const img = await buildImageAsync({ module, format: "image" });
    const { manifest, config } = open(img);
    const tar = gunzipSync(blob(img, manifest.layers[0]!));
    assert.deepEqual((config as ImageConfig).rootfs?.diff_ids, [sha256(tar)]);
    const [entry] = await readTar(tar);
    assert.ok(entry?.data.equals(module));
  });

  it("builds uncompressed and compressLayer layers as buildImage does", async () => {
    const zeros = (tar: Buffer) => ({ data: Buffer.concat([tar, Buffer.alloc(1)]), mediaType: "x/y" });
    for (const extra of [{ compression: "none" as const }, { compressLayer: zeros }]) {
      const opts = { module: MODULE, format: "image" as const, ...extra };
      assert.deepEqual((await buildImageAsync(opts)).manifest, buildImage(opts).manifest);
    }
  });

  it("refuses what buildImage refuses, with the same InvalidArgument", async () => {
    for (const opts of [
      { module: MODULE, format: "artifact" as const, env: ["A=1"] },
      { module: MODULE, format: "nope" as ImageFormat },
      { module: MODULE, format: "oras" as const, files: [{ path: "x", data: Buffer.from("x") }] },
    ]) {
      await assert.rejects(
        buildImageAsync(opts),
        (e: unknown) => e instanceof ShimError && e.code === 3,
        JSON.stringify(opts.format),
      );
    }
  });
});
