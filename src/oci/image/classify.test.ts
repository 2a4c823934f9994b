import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ShimError, sha256 } from "../../internal/index.js";
import { classifyImage, configIsJson } from "./classify.js";
import { MediaType } from "./media-types.js";
import type { Descriptor, ImageConfig, ImageManifest } from "./types.js";

const NAME = "127.0.0.1:5000/x:1";
const desc = (mediaType: string, title?: string): Descriptor => {
  const d: Descriptor = { mediaType, digest: sha256(`${mediaType}${title}`), size: 10 };
  if (title) d.annotations = { "org.opencontainers.image.title": title };
  return d;
};
const manifest = (
  config: string,
  layers: Descriptor[],
  annotations?: Record<string, string>,
): ImageManifest => {
  const m: ImageManifest = { schemaVersion: 2, config: desc(config), layers };
  if (annotations) m.annotations = annotations;
  return m;
};
const wasmConfig = (run: NonNullable<ImageConfig["config"]>, os = "wasip1"): ImageConfig => ({
  os,
  architecture: "wasm",
  config: run,
});

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ShimError, String(err));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.match(err.message, pattern);
    return true;
  });
}

describe("configIsJson", () => {
  it("parses image and wasm configs only", () => {
    for (const t of [
      MediaType.OciConfig,
      MediaType.DockerConfig,
      MediaType.WasmConfigV0,
      MediaType.WasmToOciConfig,
      MediaType.OciEmpty,
    ]) {
      assert.equal(configIsJson(t), true, t);
    }
    for (const t of [
      MediaType.SpinApplication,
      "application/vnd.unknown.config.v1+json",
      "application/octet-stream",
    ]) {
      assert.equal(configIsJson(t), false, t);
    }
  });
});

describe("classifyImage: tar layers (a)", () => {
  it("reads runwasi's demo app: one plain tar layer, absolute Entrypoint", () => {
    const layer = desc(MediaType.OciLayer);
    const loc = classifyImage(
      manifest(MediaType.OciConfig, [layer]),
      MediaType.OciManifest,
      wasmConfig({ Entrypoint: ["/wasi-demo-app.wasm"], Cmd: ["echo", "hi"], Env: ["A=1"] }),
      NAME,
    );
    assert.equal(loc.format, "image");
    assert.deepEqual(loc.module, { kind: "rootfs", path: "/wasi-demo-app.wasm" });
    assert.deepEqual(loc.tarLayers, [layer]);
    assert.deepEqual(loc.entrypoint, ["/wasi-demo-app.wasm", "echo", "hi"]);
    assert.deepEqual(loc.env, ["A=1"]);
    assert.equal(loc.workingDir, "/");
    assert.equal(loc.description, "OCI image (wasip1/wasm), module /wasi-demo-app.wasm in 1 tar layer");
  });

  it("uses Cmd without an Entrypoint, resolves relative paths against WorkingDir, strips #func", () => {
    const loc = classifyImage(
      manifest(MediaType.DockerConfig, [desc(MediaType.DockerLayerGzip), desc(MediaType.DockerLayer)]),
      MediaType.DockerManifest,
      wasmConfig({ Entrypoint: [], Cmd: ["bin/app.wasm#main", "x"], WorkingDir: "srv" }, "wasi"),
      NAME,
    );
    assert.equal(loc.format, "docker");
    assert.deepEqual(loc.module, { kind: "rootfs", path: "/srv/bin/app.wasm" });
    assert.deepEqual(loc.entrypoint, ["bin/app.wasm#main", "x"]);
    assert.equal(loc.workingDir, "/srv");
    assert.equal(loc.tarLayers.length, 2);
    assert.match(
      loc.description,
      /^Docker image \(wasi\/wasm\), module \/srv\/bin\/app.wasm in 2 tar layers$/,
    );
  });

  it("keeps .. inside the rootfs", () => {
    const loc = classifyImage(
      manifest(MediaType.OciConfig, [desc(MediaType.OciLayerZstd)]),
      MediaType.OciManifest,
      wasmConfig({ Entrypoint: ["../../../etc/x.wasm"], WorkingDir: "/a" }),
      NAME,
    );
    assert.deepEqual(loc.module, { kind: "rootfs", path: "/etc/x.wasm" });
  });

  it("refuses a non-wasm image unless annotated compat or chosen by --platform", () => {
    const m = manifest(MediaType.OciConfig, [desc(MediaType.OciLayerGzip)]);
    const amd64: ImageConfig = { os: "linux", architecture: "amd64", config: { Entrypoint: ["/bin/sh"] } };
    refused(
      () => classifyImage(m, MediaType.OciManifest, amd64, NAME),
      /is a linux\/amd64 image, not a wasm one.*variant=compat/,
    );
    const forced = classifyImage(m, MediaType.OciManifest, amd64, NAME, { explicitPlatform: true });
    assert.deepEqual(forced.module, { kind: "rootfs", path: "/bin/sh" });
  });
});

describe("classifyImage: compat (a')", () => {
  it("takes plugin.wasm from a solo-io compat image without entrypoint", () => {
    const m = manifest(MediaType.OciConfig, [desc(MediaType.OciLayerGzip)], {
      "module.wasm.image/variant": "compat",
    });
    const loc = classifyImage(m, MediaType.OciManifest, { os: "linux", architecture: "amd64" }, NAME);
    assert.equal(loc.format, "compat");
    assert.deepEqual(loc.module, { kind: "rootfs", path: "/plugin.wasm" });
    // Without the annotation and without a config platform, the Istio layout is still recognised.
    const bare = classifyImage(
      manifest(MediaType.DockerConfig, [desc(MediaType.DockerLayerGzip)]),
      MediaType.DockerManifest,
      {},
      NAME,
    );
    assert.equal(bare.format, "compat");
  });

  it("runs args[0] of a compat-smart image built on linux/amd64 and refuses a non-wasm one", () => {
    const m = manifest(MediaType.OciConfig, [desc(MediaType.OciLayerGzip)], {
      "module.wasm.image/variant": "compat-smart",
    });
    const loc = classifyImage(
      m,
      MediaType.OciManifest,
      { os: "linux", architecture: "amd64", config: { Cmd: ["/http_server.wasm"] } },
      NAME,
    );
    assert.equal(loc.format, "compat");
    assert.deepEqual(loc.module, { kind: "rootfs", path: "/http_server.wasm" });
    refused(
      () => classifyImage(m, MediaType.OciManifest, { config: { Cmd: ["/bin/server"] } }, NAME),
      /compat-smart but its entrypoint \/bin\/server is not a \.wasm file/,
    );
  });
});

describe("classifyImage: raw wasm layers", () => {
  it("recognises runwasi wasm-layer images (a'') and picks the layer named by the entrypoint", () => {
    const a = desc(MediaType.RunwasiLayer, "other.wasm");
    const b = desc(MediaType.RunwasiLayer, "wasi-demo-oci.wasm");
    const loc = classifyImage(
      manifest(MediaType.OciConfig, [a, b]),
      MediaType.OciManifest,
      wasmConfig({ Entrypoint: ["wasi-demo-oci.wasm"] }),
      NAME,
    );
    assert.equal(loc.format, "runwasi");
    assert.deepEqual(loc.module, { kind: "layer", layer: b });
    assert.deepEqual(loc.tarLayers, []);
    assert.deepEqual(loc.entrypoint, ["wasi-demo-oci.wasm"]);
    // No match by name: the first raw layer.
    const first = classifyImage(
      manifest(MediaType.OciConfig, [a, b]),
      MediaType.OciManifest,
      wasmConfig({ Entrypoint: ["/x.wasm"] }),
      NAME,
    );
    assert.deepEqual(first.module, { kind: "layer", layer: a });
    const wasm = desc(MediaType.Wasm);
    assert.equal(
      classifyImage(manifest(MediaType.OciConfig, [wasm]), MediaType.OciManifest, wasmConfig({}), NAME)
        .format,
      "runwasi",
    );
  });

  it("recognises the 2023 runwasi types (d)", () => {
    for (const t of [MediaType.W3cWasmModule, MediaType.WasmComponentV1]) {
      const loc = classifyImage(
        manifest(MediaType.OciConfig, [desc(t)]),
        MediaType.OciManifest,
        wasmConfig({}),
        NAME,
      );
      assert.equal(loc.format, "runwasi-legacy");
      assert.deepEqual(loc.entrypoint, ["/module.wasm"]);
    }
  });

  it("recognises wasm-to-oci (b), with or without the config type", () => {
    const l = desc(MediaType.WasmContentLayer);
    const loc = classifyImage(manifest(MediaType.WasmToOciConfig, [l]), MediaType.OciManifest, {}, NAME);
    assert.equal(loc.format, "wasm-to-oci");
    assert.deepEqual(loc.module, { kind: "layer", layer: l });
    const legacy = desc(MediaType.ModuleWasmContentLayer);
    assert.equal(
      classifyImage(manifest(MediaType.WasmToOciConfig, [legacy]), MediaType.OciManifest, {}, NAME).format,
      "wasm-to-oci",
    );
    assert.equal(
      classifyImage(
        manifest("application/vnd.wasmcloud.actor.archive.config", [legacy]),
        MediaType.OciManifest,
        undefined,
        NAME,
      ).format,
      "oras",
    );
  });

  it("recognises the CNCF artifact (c) and refuses more than one layer", () => {
    const l = desc(MediaType.Wasm);
    const config: ImageConfig = {
      os: "wasip1",
      architecture: "wasm",
      layerDigests: [l.digest],
      component: null,
    };
    const loc = classifyImage(manifest(MediaType.WasmConfigV0, [l]), MediaType.OciManifest, config, NAME);
    assert.equal(loc.format, "artifact");
    assert.deepEqual(loc.module, { kind: "layer", layer: l });
    assert.match(loc.description, /^CNCF Wasm OCI artifact \(wasip1\/wasm\), module in layer sha256:/);
    refused(
      () =>
        classifyImage(
          manifest(MediaType.WasmConfigV0, [l, desc(MediaType.Wasm, "b")]),
          MediaType.OciManifest,
          config,
          NAME,
        ),
      /CNCF Wasm OCI artifact with layers \[application\/wasm, application\/wasm\]; the v0 spec requires exactly one/,
    );
    refused(
      () => classifyImage(manifest(MediaType.WasmConfigV0, []), MediaType.OciManifest, config, NAME),
      /layers \[none\]/,
    );
  });

  it("treats an ORAS push as a raw layer, even when typed as a plain tar (g)", () => {
    const l = desc(MediaType.OciLayer, "hello.wasm");
    const loc = classifyImage(manifest(MediaType.OciEmpty, [l]), MediaType.OciManifest, {}, NAME);
    assert.equal(loc.format, "oras");
    assert.deepEqual(loc.module, { kind: "layer", layer: l });
    assert.deepEqual(loc.tarLayers, []);
    assert.deepEqual(loc.entrypoint, ["/hello.wasm"]);
    const odd = desc("application/vnd.acme.bin", "m.WASM");
    assert.equal(
      classifyImage(
        manifest("application/vnd.unknown.config.v1+json", [odd]),
        MediaType.OciManifest,
        undefined,
        NAME,
      ).format,
      "oras",
    );
    const raw = desc(MediaType.Wasm, "m.wasm");
    assert.equal(
      classifyImage(manifest(MediaType.OciEmpty, [raw]), MediaType.OciManifest, {}, NAME).format,
      "oras",
    );
  });
});

describe("classifyImage: refusals", () => {
  it("refuses Spin applications, current and old", () => {
    const spin = /is a Spin application \(multi-component, trigger-driven\); run it with Spin/;
    const current = manifest(MediaType.OciConfig, [
      desc(MediaType.WasmContentLayer),
      desc(MediaType.SpinData),
      desc(MediaType.SpinApplication),
    ]);
    refused(() => classifyImage(current, MediaType.OciManifest, wasmConfig({}), NAME), spin);
    refused(
      () =>
        classifyImage(
          manifest(MediaType.SpinApplication, [desc(MediaType.WasmContentLayer)]),
          MediaType.OciManifest,
          undefined,
          NAME,
        ),
      spin,
    );
    const labelled = wasmConfig({ Labels: { "com.fermyon.spin.lockedAppDigest": "sha256:x" } });
    refused(
      () =>
        classifyImage(
          manifest(MediaType.OciConfig, [desc(MediaType.WasmContentLayer)]),
          MediaType.OciManifest,
          labelled,
          NAME,
        ),
      spin,
    );
  });

  it("refuses preview 2 components", () => {
    const why = /is a WASI preview 2 component; nodewasi runs preview 1 modules \(node:wasi\)/;
    const l = desc(MediaType.Wasm);
    refused(
      () =>
        classifyImage(
          manifest(MediaType.WasmConfigV0, [l]),
          MediaType.OciManifest,
          { os: "wasip2", architecture: "wasm" },
          NAME,
        ),
      why,
    );
    refused(
      () =>
        classifyImage(
          manifest(MediaType.WasmConfigV0, [l]),
          MediaType.OciManifest,
          { os: "wasip1", component: { exports: [] } },
          NAME,
        ),
      why,
    );
  });

  it("says what it looked for when there is no module", () => {
    refused(
      () =>
        classifyImage(
          manifest(MediaType.OciConfig, [desc("application/vnd.in-toto+json")]),
          MediaType.OciManifest,
          wasmConfig({}),
          NAME,
        ),
      /image 127\.0\.0\.1:5000\/x:1 has no wasm module nodewasi can find: its layers are \[application\/vnd\.in-toto\+json\] with config application\/vnd\.oci\.image\.config\.v1\+json; looked for a raw wasm layer/,
    );
    refused(
      () => classifyImage(manifest(MediaType.OciEmpty, []), MediaType.OciManifest, {}, NAME),
      /layers are \[none\]/,
    );
  });
});
