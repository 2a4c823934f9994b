import assert from "node:assert/strict";
import { fork, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Code, type Digest, ShimError, sha256 } from "../../internal/index.js";
import { Annotation, type Descriptor, MediaType } from "../image/index.js";
import { ContentStore } from "./store.js";

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "nodewasi-store-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshStore = () => ContentStore.open(join(tmp, `store-${++n}`));

const blobDesc = (bytes: Buffer, mediaType = "application/octet-stream"): Descriptor => ({
  mediaType,
  digest: sha256(bytes),
  size: bytes.length,
});

/** A stream that yields `bytes` then fails like a dropped connection. */
function breaking(bytes: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield bytes;
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    })(),
  );
}

/** The pid of a process that has exited: a lock it held is stale. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(r.stdout.toString());
}

describe("ContentStore", () => {
  it("creates an OCI layout that OciLayout reads", async () => {
    const store = await freshStore();
    assert.deepEqual(JSON.parse(readFileSync(join(store.root, "oci-layout"), "utf8")), {
      imageLayoutVersion: "1.0.0",
    });
    assert.deepEqual((await store.index()).manifests, []);
    for (const d of ["blobs/sha256", "ingest", "modules/sha256", "rootfs", "extracted"]) {
      assert.ok(statSync(join(store.root, d)).isDirectory(), d);
    }
    assert.equal(statSync(store.root).mode & 0o777, 0o700);
    await ContentStore.open(store.root); // reopening keeps what is there
  });

  it("ingests a blob, verified, and reports it complete afterwards", async () => {
    const store = await freshStore();
    const bytes = randomBytes(100_000);
    const desc = blobDesc(bytes);
    const ing = await store.ingest(desc);
    assert.equal(ing.complete, false);
    assert.equal(ing.offset, 0);
    let seen = 0;
    await ing.write(Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]), 0, (k) => {
      seen += k;
    });
    await ing.commit();
    await ing.release();
    assert.equal(seen, bytes.length);
    assert.deepEqual(readFileSync(store.blobPath(desc.digest)), bytes);
    assert.deepEqual(readdirSync(join(store.root, "ingest")), []);
    const again = await store.ingest(desc);
    assert.equal(again.complete, true);
    await again.release();
    assert.deepEqual(await store.readBlob(desc), bytes);
  });

  it("resumes a broken download from the partial bytes, hashing them again", async () => {
    const store = await freshStore();
    const bytes = randomBytes(50_000);
    const desc = blobDesc(bytes);
    const first = await store.ingest(desc);
    await assert.rejects(first.write(breaking(bytes.subarray(0, 20_000)), 0), /socket hang up/);
    await first.release();
    const second = await store.ingest(desc);
    assert.equal(second.offset, 20_000);
    await second.write(Readable.from([bytes.subarray(20_000)]), 20_000);
    await second.commit();
    await second.release();
    assert.deepEqual(readFileSync(store.blobPath(desc.digest)), bytes);
  });

  it("starts over when the source cannot resume (fromOffset 0)", async () => {
    const store = await freshStore();
    const bytes = randomBytes(10_000);
    const desc = blobDesc(bytes);
    const a = await store.ingest(desc);
    await assert.rejects(a.write(breaking(randomBytes(3000)), 0), /hang up/);
    await a.release();
    const b = await store.ingest(desc);
    assert.equal(b.offset, 3000);
    await b.write(Readable.from([bytes]), 0);
    await b.commit();
    await b.release();
    assert.deepEqual(readFileSync(store.blobPath(desc.digest)), bytes);
  });

  it("refuses content that does not match its descriptor and discards it", async () => {
    const store = await freshStore();
    const bytes = randomBytes(1000);
    const desc = blobDesc(bytes);
    const ing = await store.ingest(desc);
    await ing.write(Readable.from([randomBytes(1000)]), 0);
    await assert.rejects(ing.commit(), (e: unknown) => e instanceof ShimError && e.code === Code.DataLoss);
    await ing.release();
    assert.equal(existsSync(store.blobPath(desc.digest)), false);
    const next = await store.ingest(desc);
    assert.equal(next.offset, 0);
    await assert.rejects(
      next.write(Readable.from([bytes, Buffer.from("x")]), 0),
      /larger than its descriptor/,
    );
    await next.release();
  });

  it("steals the lock of a dead process and waits for a live one", async () => {
    const store = await freshStore();
    const bytes = randomBytes(2000);
    const desc = blobDesc(bytes);
    const dir = join(store.root, "ingest", desc.digest.slice(7));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "lock"), `${deadPid()} stale\n`);
    const ing = await store.ingest(desc, AbortSignal.timeout(5000));
    assert.equal(ing.complete, false);
    // A second ingest of the same blob in this (live) process waits, then sees the blob appear.
    const waiting = store.ingest(desc, AbortSignal.timeout(5000));
    await ing.write(Readable.from([bytes]), 0);
    await ing.commit();
    await ing.release();
    const other = await waiting;
    assert.equal(other.complete, true);
    await other.release();
    // A live holder that never finishes is waited for until the caller's signal aborts.
    const desc2 = blobDesc(randomBytes(10));
    const held = await store.ingest(desc2);
    await assert.rejects(store.ingest(desc2, AbortSignal.timeout(200)), /TimeoutError|aborted|timeout/i);
    await held.release();
  });

  it("a waiter takes over when the holder gives up without writing (its ingest folder goes)", async () => {
    const store = await freshStore();
    const bytes = randomBytes(3000);
    const desc = blobDesc(bytes);
    const first = await store.ingest(desc);
    const waiting = store.ingest(desc, AbortSignal.timeout(5000));
    // Let the waiter find the lock taken and start polling (50 ms), then give up without writing: release
    // removes the lock and the then empty ingest folder under the waiter's feet.
    await new Promise((r) => setTimeout(r, 150));
    await first.release();
    const second = await waiting;
    assert.equal(second.complete, false);
    await second.write(Readable.from([bytes]), 0);
    await second.commit();
    await second.release();
    assert.deepEqual(readFileSync(store.blobPath(desc.digest)), bytes);
  });

  it("steals an empty lock left by a process that died while creating it, once it is old", async () => {
    const store = await freshStore();
    const desc = blobDesc(randomBytes(10));
    const dir = join(store.root, "ingest", desc.digest.slice(7));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "lock"), "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, "lock"), old, old);
    const ing = await store.ingest(desc, AbortSignal.timeout(2000));
    assert.equal(ing.complete, false);
    // Prune leaves a download that a live process holds.
    assert.equal((await store.prune()).removed, 0);
    assert.ok(existsSync(dir));
    await ing.release();
  });

  it("two processes ingesting the same blob at once both succeed, one writes", async () => {
    const store = await freshStore();
    const bytes = randomBytes(200_000);
    const desc = blobDesc(bytes);
    const file = join(tmp, `content-${n}`);
    writeFileSync(file, bytes);
    const worker = fileURLToPath(new URL("../../../test/harness/ingest-worker.js", import.meta.url));
    const run = () =>
      new Promise<{ complete?: boolean; wrote?: number }>((resolve, reject) => {
        const child = fork(worker, [store.root, desc.digest, String(desc.size), file], { stdio: "pipe" });
        let out = "";
        let err = "";
        child.stdout!.on("data", (c: Buffer) => (out += c));
        child.stderr!.on("data", (c: Buffer) => (err += c));
        child.on("exit", (code) =>
          code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker ${code}: ${err}`)),
        );
      });
    const results = await Promise.all([run(), run()]);
    assert.equal(results.filter((r) => r.wrote === bytes.length).length, 1, JSON.stringify(results));
    assert.equal(results.filter((r) => r.complete).length, 1, JSON.stringify(results));
    assert.deepEqual(readFileSync(store.blobPath(desc.digest)), bytes);
    assert.deepEqual(readdirSync(join(store.root, "ingest")), []);
  });

  it("writes small blobs atomically and idempotently", async () => {
    const store = await freshStore();
    const bytes = Buffer.from('{"a":1}');
    const r = await store.writeBlob(bytes);
    assert.deepEqual(r, { digest: sha256(bytes), size: bytes.length });
    assert.deepEqual(await store.writeBlob(bytes), r);
    assert.deepEqual(readdirSync(join(store.root, "blobs/sha256")), [r.digest.slice(7)]);
  });

  it("tags, replaces, resolves, lists and untags names in index.json", async () => {
    const store = await freshStore();
    const a = blobDesc(Buffer.from("a"), MediaType.OciManifest);
    const b = blobDesc(Buffer.from("b"), MediaType.OciIndex);
    await store.tag("example.com/x:1", a);
    await store.tag("example.com/y:1", a);
    await store.tag("example.com/x:1", b);
    const resolved = await store.resolve("example.com/x:1");
    assert.equal(resolved?.digest, b.digest);
    assert.equal(resolved?.annotations?.[Annotation.ImageName], "example.com/x:1");
    assert.equal(resolved?.annotations?.[Annotation.RefName], "example.com/x:1");
    assert.deepEqual(
      (await store.images()).map((i) => [i.name, i.descriptor.digest]),
      [
        ["example.com/y:1", a.digest],
        ["example.com/x:1", b.digest],
      ],
    );
    assert.equal(await store.untag("example.com/y:1"), true);
    assert.equal(await store.untag("example.com/y:1"), false);
    assert.equal(await store.resolve("example.com/y:1"), undefined);
    assert.equal((await store.index()).manifests.length, 1);
  });

  it("keeps every tag when many are written at once (index.json lock)", async () => {
    const store = await freshStore();
    const d = blobDesc(Buffer.from("m"), MediaType.OciManifest);
    await Promise.all(Array.from({ length: 25 }, (_, i) => store.tag(`r/img:${i}`, d)));
    assert.equal((await store.images()).length, 25);
    assert.deepEqual(
      readdirSync(store.root).filter((f) => f.includes("tmp") || f.endsWith(".lock")),
      [],
    );
  });

  it("keeps modules by digest, verified, and records extractions", async () => {
    const store = await freshStore();
    const wasm = Buffer.from("\0asm\x01\0\0\0");
    const src = join(tmp, `m-${n}.wasm`);
    writeFileSync(src, wasm);
    const { path, digest, size } = await store.importModule(src);
    assert.equal(path, store.modulePath(sha256(wasm)));
    assert.equal(digest, sha256(wasm));
    assert.equal(size, wasm.length);
    assert.deepEqual(readFileSync(path), wasm);
    assert.equal((await store.importModule(src, { digest: sha256(wasm) })).path, path);
    await assert.rejects(
      store.importModule(src, { digest: sha256("other") }),
      (e: unknown) => e instanceof ShimError && e.code === Code.DataLoss,
    );
    assert.equal(existsSync(store.modulePath(sha256("other"))), false);
    const m = sha256("manifest");
    assert.equal(await store.extraction(m), undefined);
    await store.recordExtraction(m, { module: { digest: sha256(wasm) } });
    assert.deepEqual(await store.extraction(m), { module: { digest: sha256(wasm) } });
    assert.ok(store.rootfsPath(m).endsWith(`rootfs/${m.slice(7)}`));
  });

  it("prune keeps what tags reach and removes the rest", async () => {
    const store = await freshStore();
    const put = async (bytes: Buffer | string, mediaType: string): Promise<Descriptor> => {
      const b = Buffer.from(bytes);
      await store.writeBlob(b);
      return blobDesc(b, mediaType);
    };
    const image = async (tag: string) => {
      const config = await put(`{"tag":"${tag}"}`, MediaType.OciConfig);
      const layer = await put(`layer ${tag}`, MediaType.OciLayer);
      const manifest = await put(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] }),
        MediaType.OciManifest,
      );
      const index = await put(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [manifest] }),
        MediaType.OciIndex,
      );
      const wasm = `\0asm\x01\0\0\0${tag}`;
      const src = join(tmp, `p-${tag}-${n}`);
      writeFileSync(src, wasm);
      const module: Digest = sha256(wasm);
      await store.importModule(src, { digest: module });
      mkdirSync(join(store.rootfsPath(manifest.digest), "bin"), { recursive: true });
      writeFileSync(join(store.rootfsPath(manifest.digest), "bin/x"), "12345");
      await store.recordExtraction(manifest.digest, { module: { digest: module } });
      return { config, layer, manifest, index, module };
    };
    const kept = await image("kept");
    const gone = await image("gone");
    await store.tag("r/kept:1", kept.index);
    await store.tag("r/gone:1", gone.index);
    await store.untag("r/gone:1");
    // A partial download abandoned by a dead process.
    const stale = join(store.root, "ingest", "ab".repeat(32));
    mkdirSync(stale);
    writeFileSync(join(stale, "lock"), `${deadPid()} x\n`);
    writeFileSync(join(stale, "data"), "partial");

    const r = await store.prune();
    assert.equal(r.removed, 4 + 1 + 1 + 1 + 1, JSON.stringify(r)); // 4 blobs, module, rootfs, record, ingest
    assert.ok(r.bytes > 0);
    for (const d of [kept.config, kept.layer, kept.manifest, kept.index])
      assert.ok(await store.has(d), d.digest);
    for (const d of [gone.config, gone.layer, gone.manifest, gone.index])
      assert.equal(await store.has(d), false);
    assert.ok(existsSync(store.modulePath(kept.module)));
    assert.equal(existsSync(store.modulePath(gone.module)), false);
    assert.ok(existsSync(store.rootfsPath(kept.manifest.digest)));
    assert.equal(existsSync(store.rootfsPath(gone.manifest.digest)), false);
    assert.notEqual(await store.extraction(kept.manifest.digest), undefined);
    assert.equal(await store.extraction(gone.manifest.digest), undefined);
    assert.equal(existsSync(stale), false);
    assert.deepEqual(await store.prune(), { removed: 0, bytes: 0 });
  });
});
