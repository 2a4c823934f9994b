/**
 * A pull repairs what it finds damaged in the store (issue 10 item 5): stored content whose bytes no longer
 * match its name is fetched or extracted again, never served as good.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { helloModule } from "../../../test/harness/modules.js";
import { flipByte } from "../../../test/harness/store-check.js";
import { Code, type Digest, ShimError, sha256 } from "../../internal/index.js";
import { type BuiltImage, buildImage, builtImageSource } from "../build/index.js";
import type { PullEvent } from "../store/index.js";
import { ContentStore } from "../store/index.js";
import { pullFrom } from "./pull.js";

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-pull-repair-"));
});
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;

async function pulledStore(built: BuiltImage, name: string) {
  const store = await ContentStore.open(join(tmp, `store-${++n}`));
  const events: PullEvent[] = [];
  const pull = () => {
    events.length = 0;
    return pullFrom(store, builtImageSource(built, name), name, { onEvent: (e) => events.push(e) });
  };
  const first = await pull();
  return { store, pull, events, first };
}

const repaired = (events: PullEvent[]) =>
  events.filter((e): e is Extract<PullEvent, { type: "repaired" }> => e.type === "repaired");

const blobOf = (built: BuiltImage, pick: (bytes: Buffer) => boolean): Digest =>
  [...built.blobs].find(([, b]) => pick(b))![0];

describe("a pull repairs the store", () => {
  const module = helloModule("repair me");
  const tarImage = buildImage({ module, format: "image", entrypoint: "/hello.wasm" });
  const layer = blobOf(tarImage, (b) => b[0] === 0x1f && b[1] === 0x8b); // the gzip layer

  it("a flipped byte in the extracted module: extracted again, with its rootfs", async () => {
    const { pull, events, first } = await pulledStore(tarImage, "example.com/m:1");
    flipByte(first.module.path, 2000);
    const again = await pull();
    assert.deepEqual(
      repaired(events).map((e) => [e.path, e.action]),
      [[first.module.path, "removed with the rootfs it came from; unpacking it again"]],
    );
    assert.match(repaired(events)[0]!.problem, /^its bytes hash to sha256:/);
    assert.deepEqual(readFileSync(again.module.path), module);
    assert.deepEqual(
      readFileSync(join(again.rootfs!, "hello.wasm")),
      module,
      "the rootfs was unpacked again",
    );
  });

  it("a flipped byte in a layer blob: fetched again", async () => {
    const { store, pull, events } = await pulledStore(tarImage, "example.com/l:1");
    flipByte(store.blobPath(layer));
    const again = await pull();
    assert.deepEqual(
      repaired(events).map((e) => [e.path, e.action]),
      [[store.blobPath(layer), "removed; fetching it again"]],
    );
    assert.ok(again.bytesFetched >= tarImage.blobs.get(layer)!.length);
    assert.deepEqual(readFileSync(store.blobPath(layer)), tarImage.blobs.get(layer));
    assert.ok(
      (await store.verifyBlob({ mediaType: "", digest: layer, size: tarImage.blobs.get(layer)!.length })).ok,
    );
  });

  it("a flipped byte in the manifest or config blob: stored again", async () => {
    const { store, pull } = await pulledStore(tarImage, "example.com/c:1");
    const manifest = tarImage.manifest.digest;
    const config = blobOf(tarImage, (b) => b.includes('"architecture"'));
    flipByte(store.blobPath(manifest), 10);
    flipByte(store.blobPath(config), 10);
    await pull();
    assert.equal(sha256(readFileSync(store.blobPath(manifest))), manifest);
    assert.equal(sha256(readFileSync(store.blobPath(config))), config);
  });

  it("a blob replaced by a directory or a symlink: removed and fetched again (it used to wedge the pull)", async () => {
    for (const replace of ["directory", "symlink"] as const) {
      const { store, pull, events } = await pulledStore(tarImage, `example.com/${replace}:1`);
      // Also without an extraction record: the next pull must fetch and unpack the layer.
      rmSync(join(store.root, "extracted"), { recursive: true, force: true });
      mkdirSync(join(store.root, "extracted"));
      const path = store.blobPath(layer);
      rmSync(path);
      if (replace === "directory") mkdirSync(join(path, "inside"), { recursive: true });
      else {
        const elsewhere = join(tmp, `same-size-${n}`);
        writeFileSync(elsewhere, Buffer.alloc(tarImage.blobs.get(layer)!.length));
        symlinkSync(elsewhere, path);
      }
      const again = await pull();
      assert.match(repaired(events)[0]?.problem ?? "", replace === "directory" ? /a folder/ : /a symlink/);
      assert.deepEqual(readFileSync(path), tarImage.blobs.get(layer));
      assert.deepEqual(readFileSync(again.module.path), module);
    }
  });

  it("a raw wasm layer (the module shares its inode with the blob): fetched and linked again", async () => {
    const artifact = buildImage({ module, format: "artifact" });
    const { store, pull, events, first } = await pulledStore(artifact, "example.com/raw:1");
    flipByte(first.module.path, 3000);
    const again = await pull();
    assert.deepEqual(
      repaired(events)
        .map((e) => e.path)
        .sort(),
      [store.blobPath(sha256(module)), first.module.path].sort(),
    );
    assert.deepEqual(readFileSync(again.module.path), module);
  });

  it("prune refuses to guess past a damaged manifest and deletes nothing", async () => {
    const { store, first } = await pulledStore(tarImage, "example.com/p:1");
    flipByte(store.blobPath(tarImage.manifest.digest), 10);
    await assert.rejects(store.prune(), (e: unknown) => {
      assert.ok(e instanceof ShimError);
      assert.equal(e.code, Code.DataLoss);
      assert.match(e.rawMessage, new RegExp(`blobs/sha256/${tarImage.manifest.digest.slice(7)}`));
      return true;
    });
    assert.ok(existsSync(store.blobPath(layer)), "the layer stays");
    assert.ok(existsSync(first.module.path) && existsSync(first.rootfs!), "module and rootfs stay");
  });
});
