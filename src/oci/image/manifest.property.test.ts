/**
 * Hostile manifests, indexes and configs (issue 6 item 3): whatever bytes a registry or a layout hands over,
 * parsing ends in a value whose every descriptor is valid, or in a `ShimError` with the documented code; an
 * index graph of any shape (loops, fan-out, missing children) is walked in bounded work; and classifying any
 * parsed manifest either names a module or refuses with FailedPrecondition.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  anyJson,
  assertShimError,
  checkProperty,
  deepJson,
  mutatedJson,
  settlesWithin,
} from "../../../test/harness/property.js";
import { Code, type Digest, isDigest, notFound, sha256 } from "../../internal/index.js";
import { classifyImage } from "./classify.js";
import { parseImageConfig, parseManifest } from "./manifest.js";
import { INDEX_TYPES, MANIFEST_TYPES, MediaType } from "./media-types.js";
import { isWasmPlatform, MAX_INDEX_ENTRIES, selectManifest, WASM_PLATFORM_PREFERENCE } from "./platform.js";
import type { Descriptor, ImageIndex } from "./types.js";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const W = "manifest of 127.0.0.1:5000/x:1";
const D = (s: string) => sha256(s);
const MANIFEST_CODES = [Code.InvalidArgument, Code.FailedPrecondition, Code.ResourceExhausted];

const goodManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: D("c"), size: 2 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: D("l"), size: 10, annotations: { a: "b" } }],
  subject: { mediaType: MediaType.OciManifest, digest: D("s"), size: 3 },
  annotations: { "module.wasm.image/variant": "compat" },
};
const goodIndex = {
  schemaVersion: 2,
  manifests: [
    {
      mediaType: MediaType.OciManifest,
      digest: D("m"),
      size: 5,
      platform: { os: "wasip1", architecture: "wasm", "os.features": ["x"] },
      urls: ["https://example.com"],
    },
  ],
};
const goodConfig = {
  os: "wasip1",
  architecture: "wasm",
  config: { Entrypoint: ["/app.wasm"], Cmd: ["x"], Env: ["A=1"], WorkingDir: "/w", Labels: { l: "v" } },
  rootfs: { type: "layers", diff_ids: [D("d")] },
  component: null,
};

/** Everything a parsed descriptor promises to the code that fetches by it. */
function assertDescriptor(d: Descriptor): void {
  assert.equal(typeof d.mediaType, "string");
  assert.ok(d.mediaType.length > 0);
  assert.ok(isDigest(d.digest), d.digest);
  assert.ok(Number.isSafeInteger(d.size) && d.size >= 0, String(d.size));
  if (d.platform) assert.ok(typeof d.platform.os === "string" && typeof d.platform.architecture === "string");
  for (const v of Object.values(d.annotations ?? {})) assert.equal(typeof v, "string");
}

const contentType = fc.constantFrom(undefined, "", "application/json", ...INDEX_TYPES, ...MANIFEST_TYPES);

/** Bytes of hostile manifests: mutations of good ones, wrong types anywhere, deep nesting, noise. */
const manifestBytes = fc.oneof(
  mutatedJson(goodManifest).map(enc),
  mutatedJson(goodIndex).map(enc),
  anyJson.map(enc),
  fc.uint8Array({ maxLength: 64 }),
  fc
    .tuple(fc.constantFrom("mediaType", "schemaVersion", "config", "manifests"), fc.boolean())
    .map(([key, index]) => enc({ ...(index ? goodIndex : goodManifest), [key]: "x".repeat(100_000) })),
  fc
    .tuple(fc.constantFrom("schemaVersion", "mediaType", "manifests", "config", "layers", "annotations"))
    .chain(([key]) =>
      fc
        .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom("array" as const, "object" as const))
        .map(([depth, kind]) => enc(`{"schemaVersion":2,"${key}":${deepJson(depth, kind)}}`)),
    ),
);

describe("hostile manifests and indexes (property)", () => {
  it("parse into valid descriptors or fail with InvalidArgument, FailedPrecondition or ResourceExhausted", async () => {
    await checkProperty(
      fc.property(manifestBytes, contentType, (bytes, ct) => {
        let parsed: ReturnType<typeof parseManifest>;
        try {
          parsed = parseManifest(bytes, ct, W);
        } catch (err) {
          const e = assertShimError(err, MANIFEST_CODES, "parseManifest");
          // A clear error quotes the bad value, not all of it: 4 MiB of mediaType is no message.
          assert.ok(e.message.length < 1000, `a ${e.message.length}-character message`);
          return;
        }
        const ds =
          parsed.kind === "index"
            ? parsed.index.manifests
            : [parsed.manifest.config, ...parsed.manifest.layers];
        for (const d of ds) assertDescriptor(d);
      }),
      600,
    );
  });

  it("regression: a deeply nested value where a string is expected is InvalidArgument, not a RangeError", () => {
    // JSON.parse takes any depth, but the message quoting the bad value used JSON.stringify, which overflows.
    const deep = deepJson(20_000, "array");
    for (const text of [
      `{"schemaVersion":${deep}}`,
      `{"schemaVersion":2,"mediaType":${deep}}`,
      `{"schemaVersion":2,"manifests":[{"mediaType":"a","digest":"${D("x")}","size":${deep}}]}`,
    ]) {
      assert.throws(
        () => parseManifest(enc(text), undefined, W),
        (err) => !!assertShimError(err, [Code.InvalidArgument], text.slice(0, 40)),
      );
    }
    assert.throws(
      () => parseImageConfig(enc(`{"os":${deep}}`), "config"),
      (err) => !!assertShimError(err, [Code.InvalidArgument], "config"),
    );
  });

  it("configs parse with typed fields or fail with InvalidArgument", async () => {
    await checkProperty(
      fc.property(fc.oneof(mutatedJson(goodConfig), anyJson), (v) => {
        try {
          const c = parseImageConfig(enc(v), "config");
          for (const k of ["os", "architecture", "variant"] as const)
            assert.ok(c[k] === undefined || typeof c[k] === "string");
          for (const list of [c.config?.Entrypoint, c.config?.Cmd, c.config?.Env])
            assert.ok(list === undefined || list === null || list.every((s) => typeof s === "string"));
        } catch (err) {
          assertShimError(err, [Code.InvalidArgument], "parseImageConfig");
        }
      }),
      400,
    );
  });
});

/** A random index graph: node i lists entries that point at other nodes (indexes) or at leaf manifests. */
interface Graph {
  nodes: { entries: { to: number; index: boolean; platform: number | undefined; attest: boolean }[] }[];
}

const graph: fc.Arbitrary<Graph> = fc.record({
  nodes: fc.array(
    fc.record({
      entries: fc.array(
        fc.record({
          to: fc.nat(7),
          index: fc.boolean(),
          platform: fc.option(fc.nat(WASM_PLATFORM_PREFERENCE.length + 1), { nil: undefined }),
          attest: fc.boolean(),
        }),
        { maxLength: 6 },
      ),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

function platformOf(n: number | undefined) {
  if (n === undefined) return undefined;
  return WASM_PLATFORM_PREFERENCE[n] ?? { os: "linux", architecture: "amd64" };
}

function indexOf(g: Graph, node: number): ImageIndex {
  return {
    schemaVersion: 2,
    manifests: (g.nodes[node]?.entries ?? []).map((e) => {
      const platform = e.attest ? { os: "unknown", architecture: "unknown" } : platformOf(e.platform);
      return {
        mediaType: e.index ? MediaType.OciIndex : MediaType.OciManifest,
        digest: D(`${e.index ? "i" : "m"}${e.to}`),
        size: 1,
        ...(platform ? { platform } : {}),
      };
    }),
  };
}

describe("hostile index graphs (property)", () => {
  it("are walked with bounded fetches and give a wasm manifest, NotFound or FailedPrecondition", async () => {
    await checkProperty(
      fc.asyncProperty(graph, fc.nat(7), async (g, missing) => {
        let fetches = 0;
        const byDigest = new Map<Digest, number>(g.nodes.map((_, i) => [D(`i${i}`), i]));
        const { value } = await settlesWithin(
          2000,
          "selectManifest",
          () =>
            selectManifest(indexOf(g, 0), {
              name: "x",
              async fetchIndex(d) {
                fetches++;
                const node = byDigest.get(d.digest);
                if (node === undefined || node === missing) throw notFound(`no index ${d.digest}`);
                return indexOf(g, node);
              },
              async fetchPlatformFromConfig(d) {
                fetches++;
                return d.digest === D("m0") ? { os: "wasi", architecture: "wasm" } : undefined;
              },
            }),
          [Code.NotFound, Code.FailedPrecondition],
        );
        // Each digest is fetched at most once: at most one per distinct index and manifest.
        assert.ok(fetches <= 16, `${fetches} fetches`);
        if (value) {
          assert.ok(MANIFEST_TYPES.includes(value.descriptor.mediaType));
          assert.ok(isWasmPlatform(value.platform), JSON.stringify(value.platform));
          assert.ok(value.via.every((d) => INDEX_TYPES.includes(d.mediaType)));
        }
      }),
      400,
    );
  });

  it("refuse an index wider than MAX_INDEX_ENTRIES with FailedPrecondition", async () => {
    const wide: ImageIndex = {
      schemaVersion: 2,
      manifests: Array.from({ length: MAX_INDEX_ENTRIES + 1 }, (_, i) => ({
        mediaType: MediaType.OciManifest,
        digest: D(`w${i}`),
        size: 1,
        platform: { os: "linux", architecture: "amd64" },
      })),
    };
    await assert.rejects(
      selectManifest(wide, {
        name: "x",
        fetchIndex: () => Promise.reject(new Error("no nested index here")),
        fetchPlatformFromConfig: () => Promise.resolve(undefined),
      }),
      (err) => !!assertShimError(err, [Code.FailedPrecondition], "wide index"),
    );
  });
});

describe("classifying hostile manifests (property)", () => {
  it("names a module (absolute rootfs path or one of the layers) or refuses with FailedPrecondition", async () => {
    const layerType = fc.oneof(
      fc.constantFrom(
        ...Object.values(MediaType),
        "application/x-unknown",
        "application/vnd.oci.image.layer.v1.tar+bzip2",
      ),
      fc.nat(20).map((i) => `application/x-${i}-${"y".repeat(i * 5000)}`),
    );
    const descriptor = fc
      .tuple(layerType, fc.nat(5), fc.option(fc.constantFrom("a.wasm", "x.WASM", "b", "../c.wasm", "")))
      .map(
        ([mediaType, i, title]): Descriptor => ({
          mediaType,
          digest: D(`d${i}`),
          size: i,
          ...(title === null ? {} : { annotations: { "org.opencontainers.image.title": title } }),
        }),
      );
    await checkProperty(
      fc.property(
        descriptor,
        fc.array(descriptor, { maxLength: 40 }),
        fc.option(mutatedJson(goodConfig)),
        fc.constantFrom(undefined, "compat", "compat-smart", "other"),
        fc.boolean(),
        (config, layers, configJson, variant, explicitPlatform) => {
          let parsedConfig: ReturnType<typeof parseImageConfig> | undefined;
          try {
            parsedConfig = configJson === null ? undefined : parseImageConfig(enc(configJson), "config");
          } catch {
            return; // covered above
          }
          const manifest = {
            schemaVersion: 2 as const,
            config,
            layers,
            ...(variant ? { annotations: { "module.wasm.image/variant": variant } } : {}),
          };
          try {
            const loc = classifyImage(manifest, MediaType.OciManifest, parsedConfig, "x", {
              explicitPlatform,
            });
            if (loc.module.kind === "rootfs") assert.ok(loc.module.path.startsWith("/"), loc.module.path);
            else assert.ok(layers.includes(loc.module.layer));
            assert.ok(loc.tarLayers.every((l) => layers.includes(l)));
            assert.ok(loc.workingDir.startsWith("/"));
          } catch (err) {
            const e = assertShimError(err, [Code.FailedPrecondition], "classifyImage");
            assert.ok(e.message.length < 2000, `a ${e.message.length}-character message`);
          }
        },
      ),
      600,
    );
  });
});
