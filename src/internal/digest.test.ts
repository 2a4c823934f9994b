import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, it } from "node:test";
import {
  type Digest,
  DigestStream,
  digestHex,
  isDigest,
  parseDigest,
  sha256,
  verifyContent,
} from "./digest.js";
import { Code, ShimError } from "./shim-error.js";

const EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Pipes `chunks` through `stream` and collects what comes out. */
async function through(stream: DigestStream, chunks: string[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), stream, async (source) => {
    for await (const c of source) out.push(c as Buffer);
  });
  return Buffer.concat(out);
}

describe("digests", () => {
  it("accepts only sha256 with 64 lowercase hex digits", () => {
    assert.ok(isDigest(EMPTY));
    for (const bad of [
      EMPTY.toUpperCase(),
      EMPTY.slice(0, -1),
      `${EMPTY}0`,
      `sha512:${"a".repeat(128)}`,
      "",
    ]) {
      assert.equal(isDigest(bad), false, bad);
    }
  });

  it("refuses a bad digest with InvalidArgument, naming what it was and why", () => {
    assert.equal(parseDigest(EMPTY), EMPTY);
    assert.throws(
      () => parseDigest(`sha512:${"a".repeat(128)}`, "layer digest"),
      (e: unknown) =>
        e instanceof ShimError &&
        e.code === Code.InvalidArgument &&
        /^invalid layer digest "sha512:a+": algorithm sha512 is not supported \(only sha256\)$/.test(
          e.rawMessage,
        ),
    );
    assert.throws(() => parseDigest("sha256:abc"), /invalid digest "sha256:abc": want sha256:<64 hex>/);
    assert.throws(() => parseDigest("nonsense"), /want sha256:<64 hex>/);
  });

  it("hashes bytes and strings alike, and names the blob file by the hex part", () => {
    assert.equal(sha256(""), EMPTY);
    assert.equal(sha256(new Uint8Array()), EMPTY);
    assert.equal(sha256("abc"), sha256(Buffer.from("abc")));
    assert.notEqual(sha256("abc"), sha256("abd"));
    assert.equal(digestHex(EMPTY), EMPTY.slice(7));
  });

  it("DigestStream passes content through unchanged, counting and hashing it", async () => {
    const stream = new DigestStream();
    const out = await through(stream, ["hello, ", "", "world"]);
    assert.equal(out.toString(), "hello, world");
    assert.equal(stream.bytes, 12);
    assert.equal(stream.digest(), sha256("hello, world"));
  });

  it("DigestStream with an expectation accepts matching content", async () => {
    const stream = new DigestStream({ digest: sha256("abc"), size: 3 });
    assert.equal((await through(stream, ["a", "bc"])).toString(), "abc");
  });

  it("DigestStream fails with DataLoss on a digest or size that differs, as soon as it is too long", async () => {
    const wrong = new DigestStream({ digest: sha256("abd"), size: 3 });
    await assert.rejects(through(wrong, ["abc"]), (e: unknown) => {
      assert.ok(e instanceof ShimError && e.code === Code.DataLoss && e.temporary);
      assert.match(e.message, /bytes hash to sha256:[0-9a-f]{64}; refusing corrupt content/);
      return true;
    });
    await assert.rejects(through(new DigestStream({ digest: sha256("abc"), size: 3 }), ["ab"]), {
      code: Code.DataLoss,
      message: /got 2 bytes, descriptor says 3/,
    });
    const long = new DigestStream({ digest: sha256("abc"), size: 3 });
    await assert.rejects(through(long, ["ab", "cd", "ef"]), {
      code: Code.DataLoss,
      message: /larger than its descriptor says \(3 bytes\)/,
    });
    // It stopped at the chunk that went over, without hashing it.
    assert.equal(long.bytes, 4);
  });

  it("verifyContent checks the size first, then the digest", () => {
    const expect = { digest: sha256("abc") as Digest, size: 3 };
    verifyContent(expect, 3, sha256("abc"));
    assert.throws(() => verifyContent(expect, 4, sha256("abcd")), /got 4 bytes, descriptor says 3/);
    assert.throws(() => verifyContent(expect, 3, sha256("abd")), /bytes hash to/);
  });
});
