import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { bigModule, mixedContent } from "../../../test/harness/modules.js";
import { sha256 } from "../../internal/index.js";
import { buildImageAsync } from "./build.js";
import { buildTar, tarChunks } from "./build-tar.js";
import { joined, packTarLayer } from "./pack-layer.js";

describe("packTarLayer", () => {
  it("gives gzipSync's bytes and both digests, whatever the chunks' sizes", async () => {
    const big = Buffer.alloc(2.5 * 1024 * 1024 + 3, "wasm ");
    const entries = [
      { path: "big.wasm", data: big },
      { path: "empty", data: Buffer.alloc(0) },
      { path: "small", data: Buffer.from("x") },
    ];
    const tar = buildTar(entries);
    const packed = await packTarLayer(tarChunks(entries));
    assert.ok(packed.data.equals(gzipSync(tar)));
    assert.equal(packed.digest, sha256(gzipSync(tar)));
    assert.equal(packed.diffId, sha256(tar));
    // zlib's own output buffer, sized for the worst case, not a copy of exactly the blob's size.
    assert.ok(packed.data.buffer.byteLength > tar.length, `${packed.data.buffer.byteLength}`);
  });

  it("keeps the digests builds have had: the pinned manifest of a 3 MiB mixed module, as main's gzipSync built it", async () => {
    const module = bigModule("pinned", 3 * 1024 * 1024 + 7, mixedContent);
    const image = await buildImageAsync({ module, format: "image", entrypoint: "/app.wasm" });
    assert.equal(
      image.manifest.digest,
      "sha256:e779bc8c8f228b5db69e5a6ac414b322e13f65dc0e920e8e98a661a8e0418d96",
    );
  });

  it("packs an archive with no entries (the two zero blocks)", async () => {
    const packed = await packTarLayer(tarChunks([]));
    assert.ok(packed.data.equals(gzipSync(Buffer.alloc(1024))));
  });
});

describe("joined", () => {
  it("is a view of parts that lie end to end in one buffer, and a copy of any others", () => {
    const whole = Buffer.alloc(8, "abcdefgh"); // its own allocation, not Node's shared pool
    const view = joined([whole.subarray(0, 3), whole.subarray(3, 5), whole.subarray(5)], 8);
    assert.equal(view.buffer, whole.buffer);
    assert.equal(view.toString(), "abcdefgh");
    const gap = joined([whole.subarray(0, 3), whole.subarray(4, 6)], 5);
    assert.notEqual(gap.buffer, whole.buffer);
    assert.equal(gap.toString(), "abcef");
    const apart = joined([whole.subarray(0, 2), Buffer.from("xy")], 4);
    assert.equal(apart.toString(), "abxy");
    assert.equal(joined([], 0).length, 0);
  });
});

describe("tarChunks", () => {
  it("joins into buildTar's archive, and hands file contents over as views, not copies", () => {
    const data = new Uint8Array(new ArrayBuffer(4096), 100, 1000).fill(7);
    const entries = [
      { path: "a", data },
      { path: "d/", type: "dir" as const },
    ];
    const chunks = tarChunks(entries);
    assert.ok(Buffer.concat(chunks).equals(buildTar(entries)));
    const content = chunks.find((c) => c.length === 1000);
    assert.equal(content?.buffer, data.buffer);
    assert.equal(content?.byteOffset, 100);
  });
});
