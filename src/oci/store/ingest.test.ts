/**
 * One blob download on its own, against a target of the test's making (store.test.ts drives it through the
 * store): where partial bytes go, what a resume may and may not do, and what a failure leaves behind.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { mountSkipReason, mountTmpfs, unmount } from "../../../test/harness/tmpfs.js";
import { Code, ShimError, sha256 } from "../../internal/index.js";
import type { Descriptor } from "../image/index.js";
import { Ingest, type IngestTarget } from "./ingest.js";

function descOf(bytes: Buffer): Descriptor {
  return { mediaType: "application/octet-stream", digest: sha256(bytes), size: bytes.length };
}

/** A target in `dir`: `ingest/` and `blobs/` below it; the blob is "there" once its file exists. */
function targetIn(dir: string): IngestTarget {
  const blobPath = join(dir, "blobs", "blob");
  return { dir: join(dir, "ingest"), blobPath, has: async () => existsSync(blobPath) };
}

describe("Ingest", () => {
  let root: string;
  let n = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "nodewasi-ingest-"));
  });
  after(() => rm(root, { recursive: true, force: true }));
  const fresh = async () => {
    const dir = join(root, String(++n));
    await mkdir(dir);
    return dir;
  };

  it("writes, verifies and renames the blob into place, then its ingest folder goes", async () => {
    const target = targetIn(await fresh());
    const bytes = randomBytes(5000);
    const ingest = await Ingest.begin(descOf(bytes), target);
    assert.equal(ingest.complete, false);
    await ingest.write(Readable.from([bytes.subarray(0, 1), bytes.subarray(1)]), 0);
    assert.equal(ingest.offset, bytes.length);
    await ingest.commit();
    await ingest.commit();
    await ingest.release();
    await ingest.release();
    assert.deepEqual(readFileSync(target.blobPath), bytes);
    assert.equal(existsSync(target.dir), false);
    await assert.rejects(ingest.write(Readable.from([bytes]), 0), /already stored; nothing to write/);
  });

  it("is complete at once for a blob that is there, touching nothing", async () => {
    const target = targetIn(await fresh());
    const bytes = randomBytes(10);
    await mkdir(join(target.blobPath, ".."));
    writeFileSync(target.blobPath, bytes);
    const ingest = await Ingest.begin(descOf(bytes), target);
    assert.equal(ingest.complete, true);
    assert.equal(ingest.offset, bytes.length);
    await ingest.commit();
    await ingest.release();
    assert.equal(existsSync(target.dir), false);
    await assert.rejects(ingest.write(Readable.from([bytes]), 0), { code: Code.InvalidArgument });
  });

  it("keeps partial bytes when released unfinished, and resumes after them", async () => {
    const target = targetIn(await fresh());
    const bytes = randomBytes(3000);
    const first = await Ingest.begin(descOf(bytes), target);
    await first.write(Readable.from([bytes.subarray(0, 1000)]), 0);
    await first.release();
    assert.equal(statSync(join(target.dir, "data")).size, 1000);
    const second = await Ingest.begin(descOf(bytes), target);
    assert.equal(second.offset, 1000);
    await assert.rejects(second.write(Readable.from([bytes]), 500), (e: unknown) => {
      assert.ok(e instanceof ShimError && e.code === Code.InvalidArgument);
      assert.match(e.message, /cannot continue at 500, have 1000/);
      return true;
    });
    await second.write(Readable.from([bytes.subarray(1000)]), 1000);
    await second.commit();
    await second.release();
    assert.deepEqual(readFileSync(target.blobPath), bytes);
  });

  it("drops partial data longer than the descriptor when it begins", async () => {
    const target = targetIn(await fresh());
    const bytes = randomBytes(100);
    await mkdir(target.dir, { recursive: true });
    writeFileSync(join(target.dir, "data"), randomBytes(150));
    const ingest = await Ingest.begin(descOf(bytes), target);
    assert.equal(ingest.offset, 0);
    await ingest.write(Readable.from([bytes]), 0);
    await ingest.commit();
    await ingest.release();
    assert.deepEqual(readFileSync(target.blobPath), bytes);
  });

  it("a stream longer than the descriptor fails with DataLoss and leaves nothing to resume from", async () => {
    const target = targetIn(await fresh());
    const bytes = randomBytes(100);
    const ingest = await Ingest.begin(descOf(bytes), target);
    await assert.rejects(
      ingest.write(Readable.from([bytes.subarray(0, 60), randomBytes(60)]), 0),
      (e: unknown) => {
        assert.ok(e instanceof ShimError && e.code === Code.DataLoss && e.temporary);
        assert.match(e.message, /larger than its descriptor says \(100 bytes\)/);
        return true;
      },
    );
    assert.equal(ingest.offset, 0);
    assert.equal(statSync(join(target.dir, "data")).size, 0);
    // The same ingest can be written again from the start.
    await ingest.write(Readable.from([bytes]), 0);
    await ingest.commit();
    await ingest.release();
    assert.deepEqual(readFileSync(target.blobPath), bytes);
  });

  it("content with the wrong digest is refused at commit and its bytes discarded", async () => {
    const target = targetIn(await fresh());
    const bytes = randomBytes(100);
    const ingest = await Ingest.begin(descOf(bytes), target);
    await ingest.write(Readable.from([randomBytes(100)]), 0);
    await assert.rejects(ingest.commit(), { code: Code.DataLoss });
    assert.equal(ingest.offset, 0);
    assert.equal(existsSync(join(target.dir, "data")), false);
    assert.equal(existsSync(target.blobPath), false);
    await ingest.write(Readable.from([bytes]), 0);
    await ingest.commit();
    await ingest.release();
    assert.deepEqual(readFileSync(target.blobPath), bytes);
  });

  it("a stream that breaks keeps every byte it delivered, and its error", async () => {
    const target = targetIn(await fresh());
    const bytes = randomBytes(4000);
    const ingest = await Ingest.begin(descOf(bytes), target);
    const broken = Readable.from(
      (async function* () {
        yield bytes.subarray(0, 1500);
        throw new Error("socket hang up");
      })(),
    );
    let counted = 0;
    await assert.rejects(
      ingest.write(broken, 0, (k) => {
        counted += k;
      }),
      /socket hang up/,
    );
    assert.equal(counted, 1500);
    assert.equal(ingest.offset, 1500);
    assert.equal(statSync(join(target.dir, "data")).size, 1500);
    await ingest.release();
  });

  it("a full disk is ResourceExhausted, and the ingest continues from the bytes that reached it", {
    skip: mountSkipReason(),
  }, async () => {
    const dir = await fresh();
    mountTmpfs(dir, "size=64k");
    try {
      const target = targetIn(dir);
      const bytes = randomBytes(200_000);
      const ingest = await Ingest.begin(descOf(bytes), target);
      const pieces = [];
      for (let i = 0; i < bytes.length; i += 8192) pieces.push(bytes.subarray(i, i + 8192));
      await assert.rejects(ingest.write(Readable.from(pieces), 0), (e: unknown) => {
        assert.ok(e instanceof ShimError && e.code === Code.ResourceExhausted);
        assert.match(e.message, /no space left on the device of .* free space and pull again/);
        return true;
      });
      const onDisk = statSync(join(target.dir, "data")).size;
      assert.ok(onDisk < bytes.length);
      assert.equal(ingest.offset, onDisk);
      assert.deepEqual(readFileSync(join(target.dir, "data")), bytes.subarray(0, onDisk));
      await ingest.release();
    } finally {
      unmount(dir);
    }
  });
});
