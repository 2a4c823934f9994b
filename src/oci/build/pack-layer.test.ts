import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { sha256 } from "../../internal/index.js";
import { buildTar, tarChunks } from "./build-tar.js";
import { packTarLayer } from "./pack-layer.js";

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
  });

  it("packs an archive with no entries (the two zero blocks)", async () => {
    const packed = await packTarLayer(tarChunks([]));
    assert.ok(packed.data.equals(gzipSync(Buffer.alloc(1024))));
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
