import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, type Digest, ShimError, sha256 } from "../../internal/index.js";
import { MediaType } from "./media-types.js";
import {
  configPlatform,
  formatPlatform,
  isAttestation,
  isWasmPlatform,
  parsePlatform,
  type SelectOptions,
  selectManifest,
} from "./platform.js";
import type { Descriptor, ImageIndex, Platform } from "./types.js";

let n = 0;
function entry(platform?: string, extra: Partial<Descriptor> = {}): Descriptor {
  const d: Descriptor = { mediaType: MediaType.OciManifest, digest: sha256(`m${n++}`), size: 100, ...extra };
  if (platform) d.platform = parsePlatform(platform);
  return d;
}
const index = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, manifests });

/** Options whose fetchers read from maps and record what they were asked for. */
function options(
  nested: Record<string, ImageIndex> = {},
  configs: Record<string, Platform | undefined> = {},
  platform?: Platform,
): SelectOptions & { fetched: Digest[] } {
  const fetched: Digest[] = [];
  const o: SelectOptions & { fetched: Digest[] } = {
    name: "127.0.0.1:5000/x:latest",
    fetched,
    async fetchIndex(d) {
      fetched.push(d.digest);
      const i = nested[d.digest];
      if (!i) throw new Error(`unexpected fetch of ${d.digest}`);
      return i;
    },
    async fetchPlatformFromConfig(d) {
      fetched.push(d.digest);
      return configs[d.digest];
    },
  };
  if (platform) o.platform = platform;
  return o;
}

async function rejectsWith(p: Promise<unknown>, code: Code, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ShimError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

describe("parsePlatform / formatPlatform", () => {
  it("parses os/arch[/variant], lowercased", () => {
    assert.deepEqual(parsePlatform("wasi/wasm"), { os: "wasi", architecture: "wasm" });
    assert.deepEqual(parsePlatform("Linux/ARM64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
    assert.equal(formatPlatform(parsePlatform("linux/arm/v7")), "linux/arm/v7");
    assert.equal(formatPlatform({ os: "wasip1", architecture: "wasm" }), "wasip1/wasm");
  });

  it("refuses malformed platforms", () => {
    for (const s of ["", "wasi", "wasi/", "/wasm", "a/b/c/d", "wasi wasm/x"]) {
      assert.throws(
        () => parsePlatform(s),
        (e: unknown) => e instanceof ShimError && e.code === Code.InvalidArgument,
      );
    }
  });

  it("knows the wasm platforms, case-insensitively", () => {
    for (const s of [
      "wasip1/wasm",
      "Wasip1/wasm",
      "WASI/WASM",
      "wasi/wasm32",
      "wasm32/wasi",
      "linux/wasm",
      "wasip2/wasm",
    ]) {
      assert.equal(isWasmPlatform({ os: s.split("/")[0]!, architecture: s.split("/")[1]! }), true, s);
    }
    for (const s of ["linux/amd64", "js/wasm", "wasi/amd64", "unknown/unknown"]) {
      assert.equal(isWasmPlatform(parsePlatform(s)), false, s);
    }
  });

  it("reads a platform from a config", () => {
    assert.deepEqual(configPlatform({ os: "wasip1", architecture: "wasm" }), {
      os: "wasip1",
      architecture: "wasm",
    });
    assert.deepEqual(configPlatform({ os: "linux", architecture: "arm", variant: "v7" }), {
      os: "linux",
      architecture: "arm",
      variant: "v7",
    });
    assert.equal(configPlatform({}), undefined);
  });
});

describe("isAttestation", () => {
  it("recognises buildx attestation entries", () => {
    assert.equal(isAttestation(entry("unknown/unknown")), true);
    assert.equal(
      isAttestation(
        entry(undefined, { annotations: { "vnd.docker.reference.type": "attestation-manifest" } }),
      ),
      true,
    );
    assert.equal(isAttestation(entry("wasi/wasm")), false);
    assert.equal(isAttestation(entry()), false);
  });
});

describe("selectManifest", () => {
  it("prefers wasip1/wasm over wasi/wasm regardless of order", async () => {
    const a = entry("linux/amd64");
    const b = entry("wasi/wasm");
    const c = entry("wasip1/wasm");
    const sel = await selectManifest(index(a, b, c), options());
    assert.equal(sel.descriptor, c);
    assert.deepEqual(sel.via, []);
  });

  it("takes the first among equals and ranks the legacy names", async () => {
    const a = entry("wasm32/wasi");
    const b = entry("wasi/wasm32");
    const c = entry("wasi/wasm32");
    assert.equal((await selectManifest(index(a, b, c), options())).descriptor, b);
    const d = entry("WASI/WASM");
    const e = entry("wasi/wasm");
    assert.equal((await selectManifest(index(e, d), options())).descriptor, e);
  });

  it("selects a components-only entry last so classify.ts can refuse it", async () => {
    const a = entry("linux/amd64");
    const b = entry("wasip2/wasm");
    assert.equal((await selectManifest(index(a, b), options())).descriptor, b);
    const c = entry("linux/wasm");
    assert.equal((await selectManifest(index(b, c), options())).descriptor, c);
  });

  it("skips attestations", async () => {
    const att = entry("unknown/unknown");
    const att2 = entry("wasi/wasm", { annotations: { "vnd.docker.reference.type": "attestation-manifest" } });
    const img = entry("wasi/wasm");
    const o = options();
    assert.equal((await selectManifest(index(att, att2, img), o)).descriptor, img);
    assert.deepEqual(o.fetched, []);
  });

  it("judges entries without a platform by their config, only when reached", async () => {
    const noPlat = entry();
    const later = entry();
    const o = options({}, { [noPlat.digest]: { os: "wasip1", architecture: "wasm" } });
    const sel = await selectManifest(index(entry("wasi/wasm"), noPlat, later), o);
    assert.equal(sel.descriptor, noPlat);
    assert.deepEqual(sel.platform, { os: "wasip1", architecture: "wasm" });
    // The best possible rank was found: the entry after it was never fetched.
    assert.deepEqual(o.fetched, [noPlat.digest]);
  });

  it("stops at a wasip1 entry without fetching later configs or indexes", async () => {
    const first = entry("wasip1/wasm");
    const o = options();
    await selectManifest(index(first, entry(), entry(undefined, { mediaType: MediaType.OciIndex })), o);
    assert.deepEqual(o.fetched, []);
  });

  it("follows nested indexes and reports the path", async () => {
    const leaf = entry("wasi/wasm");
    const inner = entry(undefined, { mediaType: MediaType.DockerManifestList });
    const o = options({ [inner.digest]: index(entry("linux/amd64"), leaf) });
    const sel = await selectManifest(index(entry("linux/arm64/v8"), inner), o);
    assert.equal(sel.descriptor, leaf);
    assert.deepEqual(sel.via, [inner]);
  });

  it("refuses indexes nested deeper than the limit", async () => {
    const nested: Record<string, ImageIndex> = {};
    const top = entry(undefined, { mediaType: MediaType.OciIndex });
    let cur = top;
    for (let i = 0; i < 6; i++) {
      const next = entry(undefined, { mediaType: MediaType.OciIndex });
      nested[cur.digest] = index(next);
      cur = next;
    }
    await rejectsWith(
      selectManifest(index(top), options(nested)),
      Code.FailedPrecondition,
      /nested more than 4/,
    );
  });

  it("looks at each digest once, however often a hostile index lists it, and bounds the walk", async () => {
    const leaf = entry("linux/amd64");
    const inner = entry(undefined, { mediaType: MediaType.OciIndex });
    const o = options({ [inner.digest]: index(...Array.from({ length: 60 }, () => leaf)) });
    await rejectsWith(
      selectManifest(index(...Array.from({ length: 60 }, () => inner)), o),
      Code.NotFound,
      /offers linux\/amd64;/,
    );
    assert.deepEqual(o.fetched, [inner.digest]);
    const many = Array.from({ length: 10_001 }, () => entry("linux/amd64"));
    await rejectsWith(
      selectManifest(index(...many), options()),
      Code.FailedPrecondition,
      /more than 10000 entries/,
    );
  });

  it("with --platform, takes the first exact match even when not wasm", async () => {
    const a = entry("wasip1/wasm");
    const b = entry("linux/arm64/v8");
    const c = entry("linux/arm64");
    assert.equal(
      (await selectManifest(index(a, b, c), options({}, {}, parsePlatform("LINUX/arm64")))).descriptor,
      b,
    );
    assert.equal(
      (await selectManifest(index(b, a), options({}, {}, parsePlatform("Wasip1/wasm")))).descriptor,
      a,
    );
    await rejectsWith(
      selectManifest(index(a), options({}, {}, parsePlatform("wasi/wasm"))),
      Code.NotFound,
      /wasip1\/wasm/,
    );
  });

  it("with --platform and a variant, needs the variant", async () => {
    const b = entry("linux/arm64/v8");
    await rejectsWith(
      selectManifest(index(b), options({}, {}, parsePlatform("linux/arm64/v9"))),
      Code.NotFound,
      /no linux\/arm64\/v9 manifest in 127\.0\.0\.1:5000\/x:latest; the index offers linux\/arm64\/v8; try another --platform/,
    );
  });

  it("lists every offered platform when nothing is wasm", async () => {
    const inner = entry(undefined, { mediaType: MediaType.OciIndex });
    const noPlat = entry();
    const o = options({ [inner.digest]: index(entry("linux/s390x")) }, { [noPlat.digest]: undefined });
    await rejectsWith(
      selectManifest(
        index(entry("linux/amd64"), entry("linux/arm64/v8"), entry("unknown/unknown"), inner, noPlat),
        o,
      ),
      Code.NotFound,
      /^\[not_found\] no wasm platform in 127\.0\.0\.1:5000\/x:latest; the index offers linux\/amd64, linux\/arm64\/v8, linux\/s390x, \(no platform\); try --platform$/,
    );
  });

  it("skips entries of unknown media types without fetching them", async () => {
    const odd = entry(undefined, { mediaType: "application/vnd.in-toto+json" });
    const img = entry("wasi/wasm", { mediaType: MediaType.DockerManifest });
    const o = options();
    assert.equal((await selectManifest(index(odd, img), o)).descriptor, img);
    assert.deepEqual(o.fetched, []);
  });

  it("says when the index is empty", async () => {
    await rejectsWith(selectManifest(index(), options()), Code.NotFound, /lists no images/);
  });
});
