import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { helloModule } from "../../../test/harness/modules.js";
import { buildImage, buildTar, builtImageSource } from "../build/index.js";
import type { ImageSource } from "../image/index.js";
import { MediaType } from "../image/index.js";
import { pullFrom } from "../pull/index.js";
import { ContentStore } from "./store.js";

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "nodewasi-prune-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("prune", () => {
  it("a prune while a pull is in flight leaves the pull's content alone", async () => {
    const store = await ContentStore.open(join(tmp, "store"));
    const extra = buildTar([{ path: "data/x.txt", data: Buffer.from("second layer\n") }]);
    const built = buildImage({
      module: helloModule("hello"),
      format: "image",
      entrypoint: "/hello.wasm",
      extraLayers: [{ mediaType: MediaType.OciLayer, data: extra }],
    });
    const name = "example.com/leased:v1";
    const base = builtImageSource(built, name);
    // The second layer's download waits until the test says: the first is stored by then, nothing is tagged.
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const extraDigest = [...built.blobs.keys()].find((d) => built.blobs.get(d)!.equals(extra))!;
    const source: ImageSource = {
      name,
      resolve: (s) => base.resolve(s),
      fetchManifest: (d, s) => base.fetchManifest(d, s),
      openBlob: async (d, offset, s) => {
        if (d.digest === extraDigest) {
          reached();
          await gate;
        }
        return base.openBlob(d, offset, s);
      },
      close: () => base.close(),
    };
    const pulling = pullFrom(store, source, name, { concurrency: 1 });
    await atGate;
    await store.prune();
    open();
    const result = await pulling;
    for (const digest of built.blobs.keys()) {
      assert.ok(existsSync(store.blobPath(digest)), `blob ${digest} of the pulled image is stored`);
    }
    assert.ok(existsSync(result.module.path), "module");
    assert.ok(result.rootfs && existsSync(join(result.rootfs, "data/x.txt")), "rootfs");
  });
});
