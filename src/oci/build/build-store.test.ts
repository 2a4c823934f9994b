/**
 * Built images enter the store through the pull path (storeImage), come back out of any source whole
 * (loadImage), and go into layout archives that the archive source reads (writeLayoutArchive).
 */
import assert from "node:assert/strict";
import { watch } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bigModule, helloModule, notWasm } from "../../../test/harness/modules.js";
import { Code, type Digest, ShimError, sha256 } from "../../internal/index.js";
import { Annotation, MediaType } from "../image/index.js";
import { archiveSource, layoutSource } from "../pull/index.js";
import { ContentStore } from "../store/index.js";
import { buildImage } from "./build.js";
import { writeLayoutArchive } from "./build-archive.js";
import { buildIndex } from "./build-index.js";
import { loadImage } from "./build-load.js";
import { buildIntoStore, storeImage } from "./build-store.js";
import { buildTar } from "./build-tar.js";
import { builtImageSource } from "./built-source.js";
import { writeLayout } from "./layout-writer.js";

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-build-store-"));
});
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(tmp, `d${++n}`);

describe("storeImage", () => {
  it("stores a built image as a pull would: tag, record, module and rootfs", async () => {
    const store = await ContentStore.open(fresh());
    const module = helloModule("stored by build");
    const image = buildImage({ module, format: "image", entrypoint: "/app.wasm", env: ["A=1"] });
    const result = await storeImage(store, image, "example.com/app:v1");
    assert.equal(result.digest, image.manifest.digest);
    assert.equal(result.module.digest, sha256(module));
    assert.deepEqual(result.entrypoint, ["/app.wasm"]);
    assert.deepEqual(result.env, ["A=1"]);
    assert.equal(await readFile(result.module.path, "utf8"), module.toString("utf8"));
    assert.ok((await stat(join(result.rootfs!, "app.wasm"))).isFile());
    const tagged = await store.resolve("example.com/app:v1");
    assert.equal(tagged?.digest, image.manifest.digest);
    assert.deepEqual(await store.pullRecord(tagged!), result);
  });

  it("keeps every entry of an index, and records the wasm entry", async () => {
    const store = await ContentStore.open(fresh());
    const amd64 = buildImage({
      module: notWasm("amd64"),
      format: "image",
      platform: { os: "linux", architecture: "amd64" },
    });
    const wasm = buildImage({ module: helloModule("the wasm entry"), format: "artifact" });
    const index = buildIndex([{ image: amd64 }, { image: wasm }], { attestationFor: [amd64, wasm] });
    const result = await storeImage(store, index, "example.com/multi:v1");
    assert.equal(result.manifest.digest, wasm.manifest.digest);
    for (const [digest, data] of index.blobs) {
      assert.ok(await store.has({ mediaType: "", digest, size: data.length }), `${digest} is stored`);
    }
    const tagged = await store.resolve("example.com/multi:v1");
    assert.equal(tagged?.annotations?.[Annotation.PulledManifest], wasm.manifest.digest);
  });

  it("accepts a single non-wasm-platform image when its platform is passed, as pull --platform does", async () => {
    const store = await ContentStore.open(fresh());
    const platform = { os: "linux", architecture: "amd64" };
    const image = buildImage({ module: helloModule("amd64"), format: "image", platform });
    await assert.rejects(
      storeImage(store, image, "example.com/a:v1"),
      (e: unknown) => e instanceof ShimError,
    );
    const result = await storeImage(store, image, "example.com/a:v1", { platform });
    assert.deepEqual(result.platform, platform);
  });
});

describe("builtImageSource", () => {
  it("serves blobs from an offset and refuses what the image does not hold", async () => {
    const image = buildImage({ module: helloModule("source"), format: "artifact" });
    const source = builtImageSource(image, "mem");
    const layer = [...image.blobs.entries()].find(([, b]) => b.length > 100)!;
    const desc = { mediaType: "application/wasm", digest: layer[0], size: layer[1].length };
    const { stream, offset } = await source.openBlob(desc, 10);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    assert.equal(offset, 10);
    assert.deepEqual(Buffer.concat(chunks), layer[1].subarray(10));
    const missing = { mediaType: "x", digest: sha256("nothing"), size: 7 };
    await assert.rejects(
      source.fetchManifest(missing),
      (e: unknown) => e instanceof ShimError && e.code === Code.NotFound,
    );
    await assert.rejects(
      source.openBlob({ ...desc, size: 1 }, 0),
      (e: unknown) => e instanceof ShimError && e.code === Code.DataLoss,
    );
  });
});

describe("loadImage and writeLayoutArchive", () => {
  it("reads back an index written to a layout, every blob and each entry's platform", async () => {
    const dir = fresh();
    const wasm = buildImage({ module: helloModule("loaded"), format: "image" });
    const w2o = buildImage({ module: helloModule("loaded w2o"), format: "wasm-to-oci" });
    const inner = buildIndex([{ image: w2o, platform: null }]);
    const index = buildIndex([{ image: wasm }, { image: inner }], { attestationFor: wasm });
    await writeLayout(dir, [
      { image: index, tag: "all" },
      { image: wasm, tag: "one" },
    ]);
    const loaded = await loadImage(await layoutSource(dir, "all"));
    assert.deepEqual(loaded.manifest, index.manifest);
    assert.deepEqual(new Set(loaded.blobs.keys()), new Set(index.blobs.keys()));
    const one = await loadImage(await layoutSource(dir, "one"));
    assert.deepEqual(one.manifest.platform, { architecture: "wasm", os: "wasip1" });
  });

  it("fails NotFound naming the blob when a layout is incomplete", async () => {
    const dir = fresh();
    const image = buildImage({ module: helloModule("incomplete"), format: "image" });
    await writeLayout(dir, [{ image, tag: "x" }]);
    const manifest = JSON.parse(image.blobs.get(image.manifest.digest)!.toString()) as {
      layers: { digest: string }[];
    };
    const layer = manifest.layers[0]!.digest;
    await rm(join(dir, "blobs", "sha256", layer.slice(7)));
    await assert.rejects(
      loadImage(await layoutSource(dir, "x")),
      (e: unknown) => e instanceof ShimError && e.code === Code.NotFound && e.message.includes(layer),
    );
  });

  it("writes an archive the archive source reads, the same bytes for the same images", async () => {
    const image = buildImage({ module: helloModule("archived"), format: "compat" });
    const [a, b] = [join(tmp, "a.tar"), join(tmp, "b.tar")];
    await writeLayoutArchive(a, [{ image, tag: "v1" }]);
    await writeLayoutArchive(b, [{ image, tag: "v1" }]);
    assert.deepEqual(await readFile(a), await readFile(b));
    const source = await archiveSource(a, "v1");
    try {
      const loaded = await loadImage(source);
      assert.equal(loaded.manifest.digest, image.manifest.digest);
      assert.deepEqual(new Set(loaded.blobs.keys()), new Set(image.blobs.keys()));
    } finally {
      await source.close();
    }
  });
});

describe("buildIntoStore", () => {
  /** Names created in the store's rootfs/ while `fn` runs (inotify), to see which unpack made the rootfs. */
  async function rootfsNames(store: ContentStore, fn: () => Promise<unknown>): Promise<string[]> {
    const names: string[] = [];
    const watcher = watch(join(store.root, "rootfs"), (_event, name) => {
      if (name) names.push(name);
    });
    try {
      await fn();
    } finally {
      watcher.close();
    }
    return names;
  }

  it("stores what storeImage stores, with the rootfs unpacked from the tar while it was gzipped", async () => {
    const module = helloModule("built into the store");
    const files = [{ path: "etc/app.json", data: Buffer.from('{"a":1}') }];
    const opts = { module, format: "image" as const, entrypoint: "/app.wasm", files };
    const store = await ContentStore.open(fresh());
    let built: Awaited<ReturnType<typeof buildIntoStore>> | undefined;
    const names = await rootfsNames(store, async () => {
      built = await buildIntoStore(store, opts, "example.com/app:v1");
    });
    // The early unpack's folder, and no second unpack by the pull (its temporaries are <manifest hex>.tmp-...).
    assert.ok(
      names.some((n) => n.startsWith("built.tmp-")),
      names.join(" "),
    );
    assert.ok(!names.some((n) => /^[a-f0-9]{64}\.tmp-/.test(n)), names.join(" "));
    const { image, pulled } = built!;
    const reference = buildImage(opts);
    assert.deepEqual(image.manifest, reference.manifest);
    const other = await ContentStore.open(fresh());
    const expected = await storeImage(other, reference, "example.com/app:v1");
    // storeImage writes the blobs before its pull; here the pull stores them itself, from memory.
    assert.deepEqual(
      { ...pulled, module: { ...pulled.module, path: "" }, rootfs: "", bytesFetched: 0 },
      { ...expected, module: { ...expected.module, path: "" }, rootfs: "" },
    );
    const blobs = [...image.blobs].filter(([d]) => d !== image.manifest.digest);
    assert.equal(
      pulled.bytesFetched,
      blobs.reduce((n, [, b]) => n + b.length, 0),
    );
    assert.ok((await readFile(join(pulled.rootfs!, "app.wasm"))).equals(module));
    assert.equal(await readFile(join(pulled.rootfs!, "etc/app.json"), "utf8"), '{"a":1}');
    assert.deepEqual(await readdir(join(store.root, "rootfs")), [image.manifest.digest.slice(7)]);
  });

  it("reads back neither the layer nor the module: the pull stores the one and takes the other's digest from the early unpack", async () => {
    const module = bigModule("read once", 3 * 1024 * 1024);
    const store = await ContentStore.open(fresh());
    const verdicts: Awaited<ReturnType<ContentStore["verifyBlob"]>>[] = [];
    const imports: { digest?: Digest; verified?: boolean }[] = [];
    const verifyBlob = store.verifyBlob.bind(store);
    const importModule = store.importModule.bind(store);
    store.verifyBlob = async (desc) => {
      const verdict = await verifyBlob(desc);
      verdicts.push(verdict);
      return verdict;
    };
    store.importModule = (path, opts = {}) => {
      imports.push({
        ...(opts.digest ? { digest: opts.digest } : {}),
        ...(opts.verified ? { verified: true } : {}),
      });
      return importModule(path, opts);
    };
    const { pulled } = await buildIntoStore(store, { module, format: "image" }, "example.com/once:v1");
    assert.equal(pulled.module.digest, sha256(module));
    assert.deepEqual(imports, [{ digest: sha256(module), verified: true }]);
    assert.ok(verdicts.length > 0);
    assert.ok(
      verdicts.every((v) => !v.ok && v.missing),
      JSON.stringify(verdicts),
    );
    assert.ok((await readFile(pulled.module.path)).equals(module));
  });

  it("hashes the module again when the rootfs it finds is not the one it unpacked", async () => {
    const module = helloModule("unpacked before");
    const opts = { module, format: "image" as const };
    const store = await ContentStore.open(fresh());
    // Another unpack's rootfs is in place first: the build's own is dropped, and its digest is not taken.
    const rootfs = store.rootfsPath(buildImage(opts).manifest.digest);
    await mkdir(rootfs, { recursive: true });
    await writeFile(join(rootfs, "module.wasm"), module);
    const imports: { digest?: Digest }[] = [];
    const importModule = store.importModule.bind(store);
    store.importModule = (path, o = {}) => {
      imports.push(o.digest ? { digest: o.digest } : {});
      return importModule(path, o);
    };
    const { pulled } = await buildIntoStore(store, opts, "example.com/before:v1");
    assert.equal(pulled.module.digest, sha256(module));
    assert.deepEqual(imports, [{}]);
  });

  it("leaves a layer the unpacker refuses to the pull, which refuses it in its own words, leaving nothing", async () => {
    const opts = {
      module: helloModule("hostile"),
      format: "image" as const,
      files: [{ path: "../escape", data: Buffer.from("x") }],
    };
    const store = await ContentStore.open(fresh());
    const err = await buildIntoStore(store, opts, "example.com/bad:v1").then(
      () => assert.fail("built"),
      (e: unknown) => e,
    );
    const other = await ContentStore.open(fresh());
    const expected = await storeImage(other, buildImage(opts), "example.com/bad:v1").then(
      () => assert.fail("stored"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ShimError && err.code === Code.InvalidArgument, String(err));
    assert.equal(err.message, (expected as Error).message);
    assert.deepEqual(await readdir(join(store.root, "rootfs")), []);
    assert.equal(await store.resolve("example.com/bad:v1"), undefined);
  });

  it("lets the pull unpack an image with extra layers, whose rootfs the first layer alone is not", async () => {
    const extra = buildTar([{ path: "extra.txt", data: Buffer.from("from the second layer") }]);
    const opts = {
      module: helloModule("two layers"),
      format: "image" as const,
      extraLayers: [{ mediaType: MediaType.OciLayer, data: extra }],
    };
    const store = await ContentStore.open(fresh());
    const names = await rootfsNames(store, () => buildIntoStore(store, opts, "example.com/two:v1"));
    assert.ok(!names.some((n) => n.startsWith("built.tmp-")), names.join(" "));
    const record = await store.pullRecord((await store.resolve("example.com/two:v1"))!);
    assert.equal(await readFile(join(record!.rootfs!, "extra.txt"), "utf8"), "from the second layer");
  });

  it("stores a raw-layer format through the pull alone", async () => {
    const module = helloModule("raw");
    const store = await ContentStore.open(fresh());
    const { image, pulled } = await buildIntoStore(
      store,
      { module, format: "wasm-to-oci" },
      "example.com/raw:v1",
    );
    assert.equal(pulled.digest, image.manifest.digest);
    assert.equal(pulled.module.digest, sha256(module));
  });
});
