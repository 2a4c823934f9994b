/**
 * Content digests (`sha256:<64 hex>`), as the OCI image spec defines them. Only sha256 is accepted for
 * content we store; other algorithms are refused with a clear error rather than half supported.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { dataLoss, invalidArgument } from "./shim-error.js";

export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

/** Throws `InvalidArgument` unless `s` is a sha256 digest; `what` says where it came from. */
export function parseDigest(s: string, what = "digest"): Digest {
  if (!isDigest(s)) {
    const alg = /^([A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*):/.exec(s)?.[1];
    const why =
      alg && alg !== "sha256" ? `algorithm ${alg} is not supported (only sha256)` : "want sha256:<64 hex>";
    throw invalidArgument(`invalid ${what} ${JSON.stringify(s)}: ${why}`);
  }
  return s;
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** The hex part of a digest: the file name under `blobs/sha256/`. */
export function digestHex(d: Digest): string {
  return d.slice("sha256:".length);
}

/**
 * A pass-through stream that hashes and counts what flows through it. With `expect`, it fails the stream with
 * `DataLoss` when more than `expect.size` bytes arrive or, at the end, when size or digest differ.
 */
export class DigestStream extends Transform {
  readonly hash: Hash;
  bytes = 0;
  #expect: { digest: Digest; size: number } | undefined;

  constructor(expect?: { digest: Digest; size: number }, hash: Hash = createHash("sha256")) {
    super();
    this.hash = hash;
    this.#expect = expect;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.#expect && this.bytes > this.#expect.size) {
      cb(
        dataLoss(
          `content ${this.#expect.digest} is larger than its descriptor says (${this.#expect.size} bytes)`,
        ),
      );
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.#expect) {
      try {
        verifyContent(this.#expect, this.bytes, this.digest());
      } catch (err) {
        cb(err as Error);
        return;
      }
    }
    cb();
  }

  /** The digest of everything seen; call once, after the end. */
  digest(): Digest {
    return `sha256:${this.hash.copy().digest("hex")}`;
  }
}

/** Throws `DataLoss` when the size or digest of received content differs from its descriptor. */
export function verifyContent(expect: { digest: Digest; size: number }, size: number, digest: Digest): void {
  if (size !== expect.size) {
    throw dataLoss(`content ${expect.digest}: got ${size} bytes, descriptor says ${expect.size}`, {
      temporary: true,
    });
  }
  if (digest !== expect.digest) {
    throw dataLoss(`content ${expect.digest}: bytes hash to ${digest}; refusing corrupt content`, {
      temporary: true,
    });
  }
}
