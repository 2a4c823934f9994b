/**
 * Every fixture image the pull tests use, built in memory with src/oci/build/build.ts (and by hand where the builder
 * cannot: Spin apps, entries judged by their config), each with what a correct pull must report: the module's
 * sha256, the format and the platform chosen, or the error.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Digest, sha256 } from "../../src/internal/index.js";
import { addBlob, type BuiltImage, buildImage, jsonBytes } from "../../src/oci/build/build.js";
import { buildIndex } from "../../src/oci/build/build-index.js";
import { MediaType } from "../../src/oci/image/media-types.js";
import type { Descriptor } from "../../src/oci/image/types.js";
import { componentBytes, FIXTURES_DIR, helloModule, notWasm } from "./modules.js";
import { type PushAuth, pushBuilt } from "./push.js";

export interface Fixture {
  /** Repository and tag in the registry (`formats/image:v1`). */
  repoTag: string;
  built: BuiltImage;
  /** What a pull must report; `error` for fixtures a correct pull refuses. */
  expect:
    | { module: Buffer; digest: Digest; platform: string; format?: string; entrypoint?: string[] }
    | { error: { code: number; message: RegExp } };
}

const WASI = { os: "wasi", architecture: "wasm" };
const WASIP1 = { os: "wasip1", architecture: "wasm" };
const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };

function ok(module: Buffer, platform: string, format?: string, entrypoint?: string[]) {
  return {
    module,
    digest: sha256(module),
    platform,
    ...(format ? { format } : {}),
    ...(entrypoint ? { entrypoint } : {}),
  };
}

/** A linux/amd64 image whose "module" is an ELF stub: choosing it is a selection bug the test sees. */
function amd64Image(tag: string): BuiltImage {
  return buildImage({ module: notWasm(tag), format: "image", platform: AMD64, entrypoint: "/app" });
}

/** Compresses a tar with the `zstd` CLI, as a real zstd layer would be made. */
export function zstdLayer(tar: Buffer): { data: Buffer; mediaType: string } {
  return {
    data: execFileSync("zstd", ["-q", "-c", "-19"], { input: tar, maxBuffer: 1 << 28 }),
    mediaType: MediaType.OciLayerZstd,
  };
}

/** One fixture per packaging format (../shared/reference/oci-wasm-images.md section 2). */
export function formatFixtures(): Fixture[] {
  const f = (
    format: "image" | "docker" | "compat" | "artifact" | "wasm-to-oci" | "runwasi" | "oras",
    platform: string,
  ) => {
    const m = helloModule(`hello from the ${format} format`);
    return {
      repoTag: `formats/${format}:v1`,
      built: buildImage({ module: m, format }),
      expect: ok(m, platform, format),
    };
  };
  const compatWasi = helloModule("hello from compat with a wasi config");
  return [
    f("image", "wasip1/wasm"),
    f("docker", "wasip1/wasm"),
    f("compat", "linux/amd64"),
    {
      repoTag: "formats/compat:wasi",
      built: buildImage({ module: compatWasi, format: "compat", platform: WASI }),
      expect: ok(compatWasi, "wasi/wasm", "compat"),
    },
    f("runwasi", "wasip1/wasm"),
    f("wasm-to-oci", "wasip1/wasm"),
    f("artifact", "wasip1/wasm"),
    f("oras", "wasip1/wasm"),
  ];
}

/** Layer compressions: plain tar, gzip, zstd (made by the zstd CLI). */
export function compressionFixtures(): Fixture[] {
  const plain = helloModule("hello from a plain tar layer");
  const gzip = helloModule("hello from a gzip tar layer");
  const zstd = helloModule("hello from a zstd tar layer");
  const dockerPlain = helloModule("hello from a plain docker layer");
  return [
    {
      repoTag: "layers/plain:v1",
      built: buildImage({ module: plain, format: "image", compression: "none" }),
      expect: ok(plain, "wasip1/wasm", "image"),
    },
    {
      repoTag: "layers/gzip:v1",
      built: buildImage({ module: gzip, format: "image", compression: "gzip" }),
      expect: ok(gzip, "wasip1/wasm", "image"),
    },
    {
      repoTag: "layers/zstd:v1",
      built: buildImage({ module: zstd, format: "image", compressLayer: zstdLayer }),
      expect: ok(zstd, "wasip1/wasm", "image"),
    },
    {
      repoTag: "layers/docker-plain:v1",
      built: buildImage({
        module: dockerPlain,
        format: "docker",
        compression: "none",
        entrypoint: "/app/main.wasm",
      }),
      expect: ok(dockerPlain, "wasip1/wasm", "docker", ["/app/main.wasm"]),
    },
  ];
}

/** Indexes that exercise platform selection (DESIGN decision 11). */
export function platformFixtures(): Fixture[] {
  const out: Fixture[] = [];
  const add = (repoTag: string, built: BuiltImage, expect: Fixture["expect"]) =>
    out.push({ repoTag, built, expect });

  const multi = helloModule("hello from a multi-platform index");
  add(
    "platforms/multi:v1",
    buildIndex([
      { image: amd64Image("multi") },
      { image: buildImage({ module: multi, format: "image", platform: WASI }) },
    ]),
    ok(multi, "wasi/wasm"),
  );

  const list = helloModule("hello from a docker manifest list");
  add(
    "platforms/docker-list:v1",
    buildIndex(
      [
        {
          image: buildImage({
            module: notWasm("list"),
            format: "docker",
            platform: AMD64,
            entrypoint: "/app",
          }),
        },
        { image: buildImage({ module: list, format: "docker", platform: WASI }) },
      ],
      { docker: true },
    ),
    ok(list, "wasi/wasm", "docker"),
  );

  const legacy = helloModule("hello from wasi/wasm32");
  add(
    "platforms/wasm32:v1",
    buildIndex([
      { image: amd64Image("wasm32") },
      {
        image: buildImage({
          module: legacy,
          format: "image",
          platform: { os: "wasi", architecture: "wasm32" },
        }),
      },
    ]),
    ok(legacy, "wasi/wasm32"),
  );

  const reversed = helloModule("hello from reversed wasm32/wasi");
  add(
    "platforms/reversed:v1",
    buildIndex([
      { image: amd64Image("reversed") },
      {
        image: buildImage({
          module: reversed,
          format: "image",
          platform: { os: "wasm32", architecture: "wasi" },
        }),
      },
    ]),
    ok(reversed, "wasm32/wasi"),
  );

  const p1 = helloModule("hello from wasip1, preferred");
  const wasi = helloModule("hello from wasi, second choice");
  add(
    "platforms/prefer-wasip1:v1",
    buildIndex([
      { image: buildImage({ module: wasi, format: "image", platform: WASI }) },
      { image: buildImage({ module: p1, format: "image", platform: WASIP1 }) },
    ]),
    ok(p1, "wasip1/wasm"),
  );

  const nested = helloModule("hello from a nested index");
  const inner = buildIndex([{ image: buildImage({ module: nested, format: "image", platform: WASI }) }]);
  add(
    "platforms/nested:v1",
    buildIndex([{ image: amd64Image("nested") }, { image: inner, platform: null }]),
    ok(nested, "wasi/wasm"),
  );

  const attested = helloModule("hello from an image with attestations");
  const attImage = buildImage({ module: attested, format: "image", platform: WASI });
  // The attestation entry comes first: a puller that does not skip unknown/unknown would choose it.
  const withAtt = buildIndex([{ image: attImage }], { attestationFor: attImage });
  add("platforms/attestation:v1", reorderFirst(withAtt, "unknown"), ok(attested, "wasi/wasm"));

  const byConfig = helloModule("hello from an entry judged by its config");
  add(
    "platforms/no-platform:v1",
    buildIndex([
      { image: amd64Image("no-platform") },
      { image: buildImage({ module: byConfig, format: "image", platform: WASI }), platform: null },
    ]),
    ok(byConfig, "wasi/wasm"),
  );

  add(
    "platforms/none-wasm:v1",
    buildIndex([
      { image: amd64Image("none-a") },
      { image: buildImage({ module: notWasm("arm"), format: "image", platform: ARM64, entrypoint: "/app" }) },
    ]),
    {
      error: { code: 5, message: /linux\/amd64.*linux\/arm64|linux\/arm64.*linux\/amd64/s },
    },
  );
  return out;
}

/** Moves the index entry whose platform os is `os` to the front (rebuilding the index blob). */
function reorderFirst(index: BuiltImage, os: string): BuiltImage {
  const blobs = new Map(index.blobs);
  const json = JSON.parse(blobs.get(index.manifest.digest)?.toString("utf8") ?? "{}") as {
    manifests: Descriptor[];
  };
  blobs.delete(index.manifest.digest);
  json.manifests.sort((a, b) => Number(b.platform?.os === os) - Number(a.platform?.os === os));
  const desc = addBlob(blobs, index.manifest.mediaType, jsonBytes(json));
  return { manifest: desc, blobs };
}

/** A Spin application as `spin registry push` writes it since October 2023 (spin crates/oci/src/client.rs). */
export function spinApp(): BuiltImage {
  const blobs = new Map<Digest, Buffer>();
  const component = addBlob(blobs, MediaType.WasmContentLayer, helloModule("hello from a spin component"));
  const data = addBlob(blobs, MediaType.SpinData, Buffer.from("static file\n"));
  const locked = {
    spin_lock_version: 1,
    triggers: [
      { id: "trigger--hello", trigger_type: "http", trigger_config: { component: "hello", route: "/..." } },
    ],
    components: [
      {
        id: "hello",
        source: { content: { digest: component.digest } },
        files: [{ content: { digest: data.digest }, path: "/static.txt" }],
      },
    ],
  };
  const lockedLayer = addBlob(blobs, MediaType.SpinApplication, jsonBytes(locked));
  const config = addBlob(
    blobs,
    MediaType.OciConfig,
    jsonBytes({
      architecture: "wasm",
      os: "wasip1",
      config: { Labels: { "com.fermyon.spin.lockedAppDigest": lockedLayer.digest } },
      rootfs: { type: "layers", diff_ids: [] },
    }),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config,
    layers: [component, data, lockedLayer],
  };
  return { manifest: addBlob(blobs, MediaType.OciManifest, jsonBytes(manifest)), blobs };
}

/** Images a correct pull refuses with a reason: a Spin app and a wasip2 component. */
export function refusedFixtures(): Fixture[] {
  return [
    { repoTag: "refused/spin:v1", built: spinApp(), expect: { error: { code: 9, message: /spin/i } } },
    {
      repoTag: "refused/component:v1",
      built: buildImage({
        module: componentBytes(),
        format: "artifact",
        platform: { os: "wasip2", architecture: "wasm" },
      }),
      expect: { error: { code: 9, message: /component|wasip2|preview 2/i } },
    },
  ];
}

/** The C hello module from examples/hello (wasi-libc, ~14 KiB) when it has been built, in a Docker image. */
export function exampleFixtures(): Fixture[] {
  const path = join(FIXTURES_DIR, "../../examples/hello/hello.wasm");
  if (!existsSync(path)) return [];
  const module = readFileSync(path);
  return [
    {
      repoTag: "examples/hello:c",
      built: buildImage({ module, format: "docker", entrypoint: "/hello.wasm", platform: WASI }),
      expect: ok(module, "wasi/wasm", "docker", ["/hello.wasm"]),
    },
  ];
}

/** All registry fixtures except the hostile ones (hostile-fixtures.ts), which depend on a sentinel dir. */
export function allFixtures(): Fixture[] {
  return [
    ...formatFixtures(),
    ...compressionFixtures(),
    ...platformFixtures(),
    ...refusedFixtures(),
    ...exampleFixtures(),
  ];
}

/** Pushes every fixture to `host` (in parallel, a few at a time). */
export async function pushFixtures(
  host: string,
  fixtures: readonly Fixture[],
  auth?: PushAuth,
): Promise<void> {
  const queue = [...fixtures];
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) await pushBuilt(host, f.repoTag, f.built, auth);
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}
