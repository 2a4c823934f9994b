import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ShimError, sha256 } from "../internal/index.js";
import { buildImage, buildIndex, ContentStore, pull, writeLayout } from "../oci/index.js";
import { findImage, listImages } from "./image-record.js";

/** An empty wasm module with a custom section named `name`, so each one has its own digest. */
function namedModule(name: string): Buffer {
  const n = Buffer.from(name);
  return Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0, n.length + 1, n.length, ...n]);
}

describe("listImages and findImage", () => {
  let work: string;
  let store: ContentStore;
  const preferred = namedModule("wasip1");
  const other = namedModule("wasi");
  let layout: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nodewasi-records-"));
    layout = join(work, "layout");
    const index = buildIndex([
      {
        image: buildImage({
          module: other,
          format: "artifact",
          platform: { os: "wasi", architecture: "wasm" },
        }),
      },
      { image: buildImage({ module: preferred, format: "artifact" }) },
    ]);
    const single = buildImage({ module: namedModule("single"), format: "image" });
    await writeLayout(layout, [
      { image: index, tag: "multi" },
      { image: single, tag: "single" },
    ]);
    const root = join(work, "root");
    await pull(`oci:${layout}:multi`, { root, platform: { os: "wasi", architecture: "wasm" } });
    await pull(`oci:${layout}:multi`, { root });
    store = await ContentStore.open(root);
    // A name whose pull never finished: tagged, but neither its manifest nor a record is stored.
    await store.tag("example.com/half:v1", single.manifest);
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("finds the record of the manifest the last pull chose behind an index name", async () => {
    const image = await findImage(store, `oci:${layout}:multi`);
    assert.equal(image.descriptor.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.equal(image.pulled?.module.digest, sha256(preferred));
    assert.deepEqual(image.pulled?.platform, { os: "wasip1", architecture: "wasm" });
    await pull(`oci:${layout}:multi`, { root: store.root, platform: { os: "wasi", architecture: "wasm" } });
    const again = await findImage(store, `oci:${layout}:multi`);
    assert.equal(again.pulled?.module.digest, sha256(other));
    await pull(`oci:${layout}:multi`, { root: store.root });
  });

  it("finds an image by its canonical name from a relative path", async () => {
    const cwd = process.cwd();
    process.chdir(work);
    try {
      const image = await findImage(store, "oci:layout:multi");
      assert.equal(image.name, `oci:${layout}:multi`);
    } finally {
      process.chdir(cwd);
    }
  });

  it("lists every name sorted, with records where they exist", async () => {
    const images = await listImages(store);
    assert.deepEqual(
      images.map((i) => i.name),
      ["example.com/half:v1", `oci:${layout}:multi`].sort((a, b) => a.localeCompare(b)),
    );
    const half = images.find((i) => i.name === "example.com/half:v1")!;
    assert.equal(half.pulled, undefined);
    assert.equal(images.find((i) => i.name !== half.name)?.pulled?.module.digest, sha256(preferred));
  });

  it("says how to pull a name that is not there", async () => {
    await assert.rejects(findImage(store, `oci:${layout}:single`), (e: unknown) => {
      assert.ok(e instanceof ShimError);
      assert.equal(e.code, Code.NotFound);
      assert.equal(
        e.rawMessage,
        `oci:${layout}:single is not in the store; run \`nodewasi pull oci:${layout}:single\``,
      );
      return true;
    });
  });
});
