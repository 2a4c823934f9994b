import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Code, digestHex, ShimError, sha256 } from "../../internal/index.js";
import type { Descriptor, ImageSource, OpenedBlob } from "../image/index.js";
import { ContentStore } from "../store/index.js";
import { fetchBlob } from "./fetch-blob.js";

/** A source serving `bytes`; `open` may replace how a blob is opened. Counts the offsets asked for. */
function source(bytes: Buffer, open?: (offset: number) => OpenedBlob): ImageSource & { offsets: number[] } {
  const offsets: number[] = [];
  return {
    name: "test",
    offsets,
    resolve: () => Promise.reject(new Error("unused")),
    fetchManifest: () => Promise.reject(new Error("unused")),
    openBlob: async (_d, offset) => {
      offsets.push(offset);
      return open ? open(offset) : { stream: Readable.from([bytes.subarray(offset)]), offset };
    },
    close: async () => {},
  };
}

describe("fetchBlob", () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-fetch-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const setup = async (partial?: (bytes: Buffer) => Buffer) => {
    const store = await ContentStore.open(join(dir, String(++n)));
    const bytes = randomBytes(100_000);
    const desc: Descriptor = {
      mediaType: "application/octet-stream",
      digest: sha256(bytes),
      size: bytes.length,
    };
    if (partial) {
      const ingest = join(store.root, "ingest", digestHex(desc.digest));
      await mkdir(ingest, { recursive: true });
      await writeFile(join(ingest, "data"), partial(bytes));
    }
    return { store, bytes, desc };
  };

  it("keeps a complete partial download left by a crash, without asking the source", async () => {
    const { store, bytes, desc } = await setup((b) => b);
    const src = source(bytes);
    assert.equal(await fetchBlob(store, src, desc), 0);
    assert.deepEqual(src.offsets, []);
    assert.deepEqual(await readFile(store.blobPath(desc.digest)), bytes);
  });

  it("starts over when a full-length partial download is corrupt", async () => {
    const { store, bytes, desc } = await setup((b) => Buffer.from(b).fill(0, 0, 10));
    const src = source(bytes);
    await fetchBlob(store, src, desc, { baseDelayMs: 1 });
    assert.deepEqual(src.offsets, [0]);
    assert.deepEqual(await readFile(store.blobPath(desc.digest)), bytes);
  });

  it("starts over from 0 when the source refuses the resume range (416)", async () => {
    const { store, bytes, desc } = await setup((b) => b.subarray(0, 1000));
    const src = source(bytes, (offset) => {
      if (offset > 0) throw new ShimError(Code.OutOfRange, "HTTP 416");
      return { stream: Readable.from([bytes]), offset: 0 };
    });
    await fetchBlob(store, src, desc);
    assert.deepEqual(src.offsets, [1000, 0]);
    assert.deepEqual(await readFile(store.blobPath(desc.digest)), bytes);
  });

  it("does not retry a blob the source could not open: the source retried already", async () => {
    const { store, bytes, desc } = await setup();
    const src = source(bytes, () => {
      throw new ShimError(Code.Unavailable, "HTTP 503", { temporary: true });
    });
    await assert.rejects(
      fetchBlob(store, src, desc),
      (e: unknown) => e instanceof ShimError && e.code === Code.Unavailable,
    );
    assert.deepEqual(src.offsets, [0]);
  });

  it("resumes from where a broken body stopped", async () => {
    const { store, bytes, desc } = await setup();
    let first = true;
    const src = source(bytes, (offset) => {
      if (!first) return { stream: Readable.from([bytes.subarray(offset)]), offset };
      first = false;
      let sent = false;
      const broken = new Readable({
        read() {
          if (sent) this.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
          else this.push(bytes.subarray(0, 40_000));
          sent = true;
        },
      });
      return { stream: broken, offset };
    });
    await fetchBlob(store, src, desc, { baseDelayMs: 1 });
    assert.deepEqual(src.offsets, [0, 40_000]);
    assert.deepEqual(await readFile(store.blobPath(desc.digest)), bytes);
  });

  it("survives a body that fails before anything reads it (no uncaught error), and tries again", async () => {
    const { store, bytes, desc } = await setup();
    let first = true;
    const src = source(bytes, (offset) => {
      if (!first) return { stream: Readable.from([bytes.subarray(offset)]), offset };
      first = false;
      const broken = new Readable({ read() {} });
      setImmediate(() => broken.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })));
      return { stream: broken, offset };
    });
    await fetchBlob(store, src, desc, { baseDelayMs: 1 });
    assert.deepEqual(src.offsets, [0, 0]);
    assert.deepEqual(await readFile(store.blobPath(desc.digest)), bytes);
  });
});
