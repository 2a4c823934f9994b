/**
 * The one pass of a pull (pull.ts, fetch-blob.ts, tee.ts): the bottom tar layer is hashed into the ingest and
 * unpacked while it downloads. These cases break that pass in the middle, by an abort and by content that does
 * not match its digest, and check that nothing half-made is visible in the store (no blob, no rootfs, no
 * temporary rootfs, no record, no name) and that pulling again succeeds; and that the lease protects what a
 * manifest names before the first of it is written.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { bigModule } from "../../../test/harness/modules.js";
import { Code, type Digest, digestHex, ShimError } from "../../internal/index.js";
import { buildImage, builtImageSource } from "../build/index.js";
import type { Descriptor, ImageSource } from "../image/index.js";
import { ContentStore } from "../store/index.js";
import { pullFrom } from "./pull.js";

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-pull-stream-"));
});
after(() => rm(tmp, { recursive: true, force: true }));

const module = bigModule("one pass", 3 * 1024 * 1024);
const image = buildImage({ module, format: "image", entrypoint: "/hello.wasm" });
const name = "example.com/one-pass:v1";
const layer = JSON.parse(image.blobs.get(image.manifest.digest)!.toString()).layers[0] as Descriptor;
const config = JSON.parse(image.blobs.get(image.manifest.digest)!.toString()).config as Descriptor;
let n = 0;

/** The built image as a source whose layer bytes go through `layerStream` (the whole blob is given). */
function sourceWith(layerStream: (data: Buffer, signal?: AbortSignal) => Readable): ImageSource {
  const base = builtImageSource(image, name);
  return {
    ...base,
    openBlob: async (d, offset, signal) => {
      if (d.digest !== layer.digest || offset !== 0) return base.openBlob(d, offset, signal);
      return { stream: layerStream(image.blobs.get(d.digest)!, signal), offset: 0 };
    },
  };
}

/** Asserts that the store shows nothing of the image: no layer blob, rootfs, temporary rootfs, record or name. */
async function assertNothingVisible(store: ContentStore): Promise<void> {
  assert.equal(existsSync(store.blobPath(layer.digest)), false, "no layer blob");
  assert.equal(existsSync(store.rootfsPath(image.manifest.digest)), false, "no rootfs");
  const rootfs = await readdir(join(store.root, "rootfs")).catch(() => [] as string[]);
  assert.deepEqual(rootfs, [], "no temporary rootfs");
  assert.equal(await store.extraction(image.manifest.digest), undefined, "no pull record");
  assert.equal(await store.resolve(name), undefined, "no name");
}

async function freshStore(): Promise<ContentStore> {
  return ContentStore.open(join(tmp, `store-${++n}`));
}

describe("the one-pass pull, broken in the middle", () => {
  it("an abort while the layer streams leaves nothing visible, and the next pull succeeds", async () => {
    const store = await freshStore();
    const stop = new AbortController();
    // Half the layer, then silence until the abort: the unpacker is mid-file when it comes.
    const stalled = sourceWith((data, signal) =>
      Readable.from(
        (async function* () {
          yield data.subarray(0, data.length >> 1);
          stop.abort(new ShimError(Code.Canceled, "pull interrupted"));
          await new Promise((_, reject) => {
            if (signal?.aborted) reject(signal.reason);
            signal?.addEventListener("abort", () => reject(signal.reason));
          });
        })(),
      ),
    );
    await assert.rejects(pullFrom(store, stalled, name, { signal: stop.signal }), (err: unknown) => {
      assert.equal(ShimError.from(err).code, Code.Canceled);
      return true;
    });
    await assertNothingVisible(store);
    const result = await pullFrom(store, builtImageSource(image, name), name);
    assert.deepEqual(await readFile(result.module.path), module);
    assert.ok(existsSync(store.blobPath(layer.digest)));
  });

  it("a layer whose bytes do not match its digest leaves nothing visible, and a good source then succeeds", async () => {
    const store = await freshStore();
    let opened = 0;
    const corrupt = sourceWith((data) => {
      opened++;
      const bad = Buffer.from(data);
      bad[bad.length - 100]! ^= 0xff; // late, so the unpacker has written most of the module by then
      return Readable.from([bad]);
    });
    await assert.rejects(pullFrom(store, corrupt, name), (err: unknown) => {
      assert.equal(ShimError.from(err).code, Code.DataLoss);
      return true;
    });
    assert.ok(opened >= 2, "the blob was fetched again before the pull gave up");
    await assertNothingVisible(store);
    const result = await pullFrom(store, builtImageSource(image, name), name);
    assert.deepEqual(await readFile(result.module.path), module);
  });

  it("protects the manifest, config and every layer in the lease before the first of them is written", async () => {
    const store = await freshStore();
    const base = builtImageSource(image, name);
    let leased: string[] | undefined;
    const watching: ImageSource = {
      ...base,
      openBlob: async (d, offset, signal) => {
        if (d.digest === config.digest) {
          assert.equal(existsSync(store.blobPath(config.digest)), false, "the config is not stored yet");
          const dir = join(store.root, "leases");
          const files = (await readdir(dir)).filter((f) => f.endsWith(".json"));
          leased = files.length
            ? (JSON.parse(await readFile(join(dir, files[0]!), "utf8")) as { digests: string[] }).digests
            : [];
        }
        return base.openBlob(d, offset, signal);
      },
    };
    await pullFrom(store, watching, name);
    const want: Digest[] = [image.manifest.digest, config.digest, layer.digest];
    assert.ok(leased, "the config was fetched");
    for (const d of want) assert.ok(leased.includes(d), `lease names ${digestHex(d).slice(0, 12)}`);
  });
});
