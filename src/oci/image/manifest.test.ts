import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Code, ShimError, sha256 } from "../../internal/index.js";
import {
  MAX_MANIFEST_BYTES,
  manifestArtifactType,
  parseDescriptor,
  parseImageConfig,
  parseManifest,
} from "./manifest.js";
import { MediaType } from "./media-types.js";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const D1 = sha256("config");
const D2 = sha256("layer");
const W = "manifest of 127.0.0.1:5000/x:1";

const manifest = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: D1, size: 2 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: D2, size: 10, annotations: { a: "b" } }],
  ...extra,
});

function fails(fn: () => unknown, code: Code, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ShimError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe("parseManifest", () => {
  it("parses an OCI manifest and keeps its fields", () => {
    const p = parseManifest(
      enc(manifest({ annotations: { "module.wasm.image/variant": "compat" } })),
      MediaType.OciManifest,
      W,
    );
    assert.equal(p.kind, "manifest");
    assert.ok(p.kind === "manifest");
    assert.equal(p.mediaType, MediaType.OciManifest);
    assert.deepEqual(p.manifest.config, { mediaType: MediaType.OciConfig, digest: D1, size: 2 });
    assert.deepEqual(p.manifest.layers[0]!.annotations, { a: "b" });
    assert.deepEqual(p.manifest.annotations, { "module.wasm.image/variant": "compat" });
  });

  it("parses an index with platforms, ignoring Content-Type parameters and unknown fields", () => {
    const body = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      surprise: [1, 2],
      manifests: [
        {
          mediaType: MediaType.DockerManifest,
          digest: D1,
          size: 5,
          platform: { os: "wasi", architecture: "wasm" },
          x: 1,
        },
      ],
    };
    const p = parseManifest(enc(body), `${MediaType.DockerManifestList}; charset=utf-8`, W);
    assert.ok(p.kind === "index");
    assert.deepEqual(p.index.manifests[0], {
      mediaType: MediaType.DockerManifest,
      digest: D1,
      size: 5,
      platform: { os: "wasi", architecture: "wasm" },
    });
  });

  it("infers the media type from the body when neither body nor Content-Type gives one", () => {
    const { mediaType: _, ...bare } = manifest();
    for (const ct of [undefined, "", "application/json", "text/plain; charset=utf-8"]) {
      assert.equal(parseManifest(enc(bare), ct, W).mediaType, MediaType.OciManifest);
    }
    assert.equal(parseManifest(enc({ schemaVersion: 2, manifests: [] }), undefined, W).kind, "index");
    // wasm-to-oci pushes without a body mediaType; the registry's Content-Type then decides.
    assert.equal(parseManifest(enc(bare), MediaType.DockerManifest, W).mediaType, MediaType.DockerManifest);
  });

  it("refuses a body that disagrees with Content-Type", () => {
    fails(
      () => parseManifest(enc(manifest()), MediaType.OciIndex, W),
      Code.InvalidArgument,
      /body says mediaType application\/vnd.oci.image.manifest.v1\+json but it was served as application\/vnd.oci.image.index.v1\+json/,
    );
  });

  it("refuses schema 1 with advice, whether declared by header, body or schemaVersion", () => {
    const why =
      /Docker schema 1 manifests are not supported; re-push the image with a current Docker or skopeo/;
    fails(
      () => parseManifest(enc({ schemaVersion: 1, name: "x" }), undefined, W),
      Code.FailedPrecondition,
      why,
    );
    fails(
      () => parseManifest(enc(manifest()), MediaType.DockerSchema1Signed, W),
      Code.FailedPrecondition,
      why,
    );
    fails(
      () => parseManifest(enc(manifest({ mediaType: MediaType.DockerSchema1 })), "", W),
      Code.FailedPrecondition,
      why,
    );
  });

  it("refuses unknown manifest types", () => {
    fails(
      () => parseManifest(enc(manifest()), "application/vnd.oci.artifact.manifest.v1+json", W),
      Code.FailedPrecondition,
      /served as application\/vnd.oci.artifact.manifest.v1\+json/,
    );
    fails(
      () => parseManifest(enc(manifest({ mediaType: "application/x-foo" })), undefined, W),
      Code.FailedPrecondition,
      /mediaType application\/x-foo is not an OCI or Docker manifest/,
    );
  });

  it("caps the size", () => {
    const big = new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20);
    fails(
      () => parseManifest(big, undefined, W),
      Code.ResourceExhausted,
      /4194305 bytes, over the 4194304-byte/,
    );
  });

  it("reports malformed JSON with its position", () => {
    fails(
      () => parseManifest(enc('{"schemaVersion": 2,}'), undefined, W),
      Code.InvalidArgument,
      /not valid JSON: .*position 20/,
    );
    fails(() => parseManifest(enc("[1]"), undefined, W), Code.InvalidArgument, /JSON but not an object/);
    fails(
      () => parseManifest(new Uint8Array([0x7b, 0xff, 0x7d]), undefined, W),
      Code.InvalidArgument,
      /UTF-8/,
    );
  });

  it("validates schemaVersion, config, layers and every descriptor", () => {
    fails(
      () => parseManifest(enc(manifest({ schemaVersion: 3 })), undefined, W),
      Code.InvalidArgument,
      /schemaVersion is 3/,
    );
    fails(
      () => parseManifest(enc(manifest({ config: undefined })), undefined, W),
      Code.InvalidArgument,
      /no config/,
    );
    fails(
      () => parseManifest(enc(manifest({ layers: {} })), undefined, W),
      Code.InvalidArgument,
      /no layers array/,
    );
    const badLayer = (l: unknown) => () => parseManifest(enc(manifest({ layers: [l] })), undefined, W);
    fails(badLayer({ digest: D2, size: 1 }), Code.InvalidArgument, /layers\[0\]: descriptor mediaType/);
    fails(
      badLayer({ mediaType: "a", digest: "sha256:12", size: 1 }),
      Code.InvalidArgument,
      /layers\[0\] digest/,
    );
    fails(badLayer({ mediaType: "a", digest: D2, size: -1 }), Code.InvalidArgument, /size -1/);
    fails(badLayer({ mediaType: "a", digest: D2, size: 1.5 }), Code.InvalidArgument, /size 1.5/);
    fails(badLayer({ mediaType: "a", digest: D2, size: 2 ** 53 }), Code.InvalidArgument, /size/);
    fails(badLayer({ mediaType: "a", digest: D2, size: "1" }), Code.InvalidArgument, /size "1"/);
    fails(
      badLayer({ mediaType: "a", digest: D2, size: 1, annotations: { a: 1 } }),
      Code.InvalidArgument,
      /annotations/,
    );
    fails(badLayer({ mediaType: "a", digest: D2, size: 1, urls: "x" }), Code.InvalidArgument, /urls/);
    fails(badLayer("x"), Code.InvalidArgument, /not a JSON object/);
    fails(
      () =>
        parseManifest(
          enc({
            schemaVersion: 2,
            manifests: [{ mediaType: "a", digest: D1, size: 1, platform: { os: "x" } }],
          }),
          undefined,
          W,
        ),
      Code.InvalidArgument,
      /manifests\[0\] platform/,
    );
  });

  it("refuses bodies that are neither or both kinds", () => {
    fails(() => parseManifest(enc({ schemaVersion: 2 }), undefined, W), Code.InvalidArgument, /neither/);
    fails(
      () => parseManifest(enc({ schemaVersion: 2, manifests: [], layers: [] }), undefined, W),
      Code.InvalidArgument,
      /has both/,
    );
  });

  it("keeps a __proto__ annotation as data", () => {
    const text = `{"schemaVersion":2,"manifests":[],"annotations":{"__proto__":"x"}}`;
    const p = parseManifest(enc(text), undefined, W);
    assert.ok(p.kind === "index");
    assert.equal(Object.getPrototypeOf(p.index.annotations), Object.prototype);
    assert.equal(Object.hasOwn(p.index.annotations!, "__proto__"), true);
  });

  it("throws only ShimErrors on random bytes and mutated manifests", () => {
    const good = JSON.stringify(manifest());
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .tuple(fc.nat(good.length), fc.string({ maxLength: 5 }))
            .map(([i, s]) => enc(good.slice(0, i) + s + good.slice(i + 1))),
          fc.jsonValue().map((v) => enc(v)),
        ),
        fc.constantFrom(undefined, "", MediaType.OciManifest, MediaType.OciIndex),
        (bytes, ct) => {
          try {
            parseManifest(bytes, ct, W);
          } catch (err) {
            assert.ok(err instanceof ShimError, String(err));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("parseDescriptor", () => {
  it("keeps artifactType and drops unknown fields", () => {
    assert.deepEqual(parseDescriptor({ mediaType: "m", digest: D1, size: 0, artifactType: "t", y: 1 }, "d"), {
      mediaType: "m",
      digest: D1,
      size: 0,
      artifactType: "t",
    });
  });
});

describe("parseImageConfig", () => {
  it("reads the fields nodewasi uses", () => {
    const c = parseImageConfig(
      enc({
        architecture: "wasm",
        os: "wasip1",
        config: { Entrypoint: ["/a.wasm"], Cmd: null, Env: ["A=1"], WorkingDir: "/w", Labels: { l: "v" } },
        rootfs: { type: "layers", diff_ids: [D2] },
        history: [{ created_by: "x" }],
      }),
      "config",
    );
    assert.deepEqual(c, {
      architecture: "wasm",
      os: "wasip1",
      config: { Entrypoint: ["/a.wasm"], Cmd: null, Env: ["A=1"], WorkingDir: "/w", Labels: { l: "v" } },
      rootfs: { type: "layers", diff_ids: [D2] },
    });
  });

  it("reads the CNCF artifact config", () => {
    const c = parseImageConfig(
      enc({
        created: "2024-06-25T15:58:49Z",
        author: null,
        architecture: "wasm",
        os: "wasip2",
        layerDigests: [D2],
        component: { exports: ["wasi:cli/run@0.2.0"], imports: [], target: "wasi:cli/command" },
      }),
      "config",
    );
    assert.deepEqual(c.component, {
      exports: ["wasi:cli/run@0.2.0"],
      imports: [],
      target: "wasi:cli/command",
    });
    assert.deepEqual(c.layerDigests, [D2]);
    assert.equal(parseImageConfig(enc({ component: null }), "c").component, null);
    // What wkg and wash write for a component without a target (rust-oci-wasm component.rs).
    assert.deepEqual(
      parseImageConfig(
        enc({ component: { exports: [], imports: ["wasi:io/streams@0.2.0"], target: null } }),
        "c",
      ).component,
      { exports: [], imports: ["wasi:io/streams@0.2.0"] },
    );
    assert.deepEqual(parseImageConfig(enc({}), "c"), {});
  });

  it("names a field of the wrong type", () => {
    fails(
      () => parseImageConfig(enc({ os: 1 }), "config sha256:x"),
      Code.InvalidArgument,
      /config sha256:x: os is 1/,
    );
    fails(
      () => parseImageConfig(enc({ config: { Entrypoint: "/a" } }), "c"),
      Code.InvalidArgument,
      /config.Entrypoint/,
    );
    fails(
      () => parseImageConfig(enc({ config: [] }), "c"),
      Code.InvalidArgument,
      /config is not a JSON object/,
    );
    fails(() => parseImageConfig(enc({ component: 3 }), "c"), Code.InvalidArgument, /component/);
    fails(() => parseImageConfig(enc("{"), "c"), Code.InvalidArgument, /not valid JSON/);
    // A hostile value is shown cut short, not as a multi-megabyte error line.
    const huge = { os: ["x".repeat(1_000_000)] };
    assert.throws(
      () => parseImageConfig(enc(huge), "c"),
      (e: unknown) => e instanceof ShimError && e.message.length < 200 && /os is \["x+\.\.\./.test(e.message),
    );
  });
});

describe("manifestArtifactType", () => {
  it("falls back to the config media type", () => {
    const p = parseManifest(enc(manifest()), undefined, W);
    assert.ok(p.kind === "manifest");
    assert.equal(manifestArtifactType(p.manifest), MediaType.OciConfig);
    assert.equal(manifestArtifactType({ ...p.manifest, artifactType: "application/x" }), "application/x");
  });
});
