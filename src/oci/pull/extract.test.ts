import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ShimError, sha256 } from "../../internal/index.js";
import { buildTar } from "../build/index.js";
import type { Descriptor, ModuleLocation } from "../image/index.js";
import { MediaType } from "../image/index.js";
import { ContentStore } from "../store/index.js";
import { extractModule, MAX_LAYERS, unpackRootfs } from "./extract.js";

const WASM = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0, 3, 2, 0x68, 0x69]);

describe("unpackRootfs and extractModule", () => {
  let dir: string;
  let store: ContentStore;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-extract-"));
    store = await ContentStore.open(join(dir, "store"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const layer = async (files: Record<string, Buffer | string>): Promise<Descriptor> => {
    const tar = buildTar(Object.entries(files).map(([path, data]) => ({ path, data: Buffer.from(data) })));
    const { digest, size } = await store.writeBlob(tar);
    return { mediaType: MediaType.OciLayer, digest, size };
  };
  const location = (tarLayers: Descriptor[], path = "/app.wasm"): ModuleLocation => ({
    format: "image",
    description: "test",
    module: { kind: "rootfs", path },
    tarLayers,
    entrypoint: [path],
    env: [],
    workingDir: "/",
  });
  const ready = { ready: async () => {} };

  it("applies layers in order, hashes the module while unpacking, and links it into the store", async () => {
    const layers = [await layer({ "app.wasm": "old", "data.txt": "1" }), await layer({ "app.wasm": WASM })];
    const manifest = sha256(`m${++n}`);
    const rootfs = await unpackRootfs(store, manifest, location(layers), "test", ready);
    assert.deepEqual(rootfs.module, { digest: sha256(WASM), size: WASM.length });
    const module = await extractModule(store, location(layers), "test", rootfs);
    assert.equal(module.digest, sha256(WASM));
    assert.deepEqual(await readFile(module.path), WASM);
    assert.equal(await readFile(join(rootfs.path, "data.txt"), "utf8"), "1");
  });

  it("holds the entry limit for the whole rootfs, not per layer", async () => {
    const layers = [await layer({ a: "1", b: "2", c: "3" }), await layer({ d: "4", e: "5", f: "6" })];
    await assert.rejects(
      unpackRootfs(store, sha256(`m${++n}`), location(layers), "test", {
        ...ready,
        limits: { maxEntries: 5, maxBytes: 1 << 20 },
      }),
      (e: unknown) =>
        e instanceof ShimError &&
        e.code === Code.InvalidArgument &&
        /the image has more than 5 entries/.test(e.message),
    );
  });

  it("refuses more layers than containerd would stack", async () => {
    const one = await layer({ x: "1" });
    await assert.rejects(
      unpackRootfs(store, sha256(`m${++n}`), location(Array(MAX_LAYERS + 1).fill(one)), "test", ready),
      (e: unknown) =>
        e instanceof ShimError && e.code === Code.FailedPrecondition && /more than 128/.test(e.message),
    );
  });
});
