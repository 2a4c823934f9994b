import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import { Code, ShimError, sha256 } from "../../internal/index.js";
import { Annotation, type Descriptor, MediaType } from "../image/index.js";
import { archiveSource, layoutSource } from "./layout-source.js";

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "nodewasi-lsrc-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const wasm = Buffer.from("\0asm\x01\0\0\0");

/** A one-image layout (config, raw wasm layer, manifest) tagged `tag`, as skopeo reads it. */
function makeLayout(dir: string, tag: string): { manifest: Descriptor; layer: Descriptor } {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  const put = (bytes: Buffer, mediaType: string): Descriptor => {
    writeFileSync(join(dir, "blobs", "sha256", sha256(bytes).slice(7)), bytes);
    return { mediaType, digest: sha256(bytes), size: bytes.length };
  };
  const config = put(
    Buffer.from('{"architecture":"wasm","os":"wasip1","rootfs":{"type":"layers","diff_ids":[]}}'),
    MediaType.OciConfig,
  );
  const layer = put(wasm, MediaType.Wasm);
  const manifest = put(
    Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] }),
    ),
    MediaType.OciManifest,
  );
  writeFileSync(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...manifest, annotations: { [Annotation.RefName]: tag } }],
    }),
  );
  return { manifest, layer };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("layoutSource", () => {
  it("resolves a tag to its manifest and serves blobs, with resume offsets", async () => {
    const dir = join(tmp, "l1");
    const { manifest, layer } = makeLayout(dir, "v1");
    const src = await layoutSource(dir, "v1");
    assert.equal(src.name, `oci:${dir}:v1`);
    const top = await src.resolve();
    assert.equal(top.digest, manifest.digest);
    assert.equal(top.mediaType, MediaType.OciManifest);
    assert.equal(sha256(top.bytes), manifest.digest);
    const opened = await src.openBlob(layer, 4);
    assert.equal(opened.offset, 4);
    assert.deepEqual(await readAll(opened.stream), wasm.subarray(4));
    await assert.rejects(
      src.fetchManifest({ ...manifest, digest: sha256("x") }),
      (e: unknown) => e instanceof ShimError && e.code === Code.NotFound,
    );
    await assert.rejects((await layoutSource(dir, "v2")).resolve(), /no image named "v2".*it has: v1/);
    await src.close();
  });

  it("refuses a manifest whose bytes do not match the index", async () => {
    const dir = join(tmp, "l2");
    const { manifest } = makeLayout(dir, "v1");
    writeFileSync(join(dir, "blobs", "sha256", manifest.digest.slice(7)), Buffer.alloc(manifest.size, 0x20));
    await assert.rejects(
      (await layoutSource(dir, "v1")).resolve(),
      (e: unknown) => e instanceof ShimError && e.code === Code.DataLoss,
    );
  });
});

describe("archiveSource", () => {
  it("reads an oci-archive made by skopeo, and removes its temp dir on close", async () => {
    const dir = join(tmp, "a1");
    const { manifest } = makeLayout(dir, "v1");
    const file = join(tmp, "a1.tar");
    execFileSync("skopeo", ["copy", "-q", `oci:${dir}:v1`, `oci-archive:${file}:v1`]);
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith("nodewasi-archive-"));
    const src = await archiveSource(file, "v1");
    assert.equal(src.name, `oci-archive:${file}:v1`);
    const top = await src.resolve();
    assert.equal(top.digest, manifest.digest, "skopeo keeps the manifest bytes of an OCI image");
    await src.close();
    assert.deepEqual(
      readdirSync(tmpdir()).filter((f) => f.startsWith("nodewasi-archive-")),
      before,
    );
  });

  it("reads a gzip-compressed archive", async () => {
    const dir = join(tmp, "a2");
    const { manifest } = makeLayout(dir, "v1");
    const file = join(tmp, "a2.tar.gz");
    execFileSync("tar", ["-C", dir, "-cf", join(tmp, "a2.tar"), "."]);
    await pipeline(createReadStream(join(tmp, "a2.tar")), createGzip(), createWriteStream(file));
    const src = await archiveSource(file);
    assert.equal((await src.resolve()).digest, manifest.digest);
    await src.close();
  });

  it("reads an archive from a pipe, plain and gzip (oci-archive:/dev/stdin, <(...)): no positional read", async () => {
    // Before: the compression was sniffed with a positional read, which a FIFO refuses (ESPIPE).
    const dir = join(tmp, "a3");
    const { manifest } = makeLayout(dir, "v1");
    const plain = join(tmp, "a3.tar");
    execFileSync("tar", ["-C", dir, "-cf", plain, "."]);
    const gzipped = join(tmp, "a3.tar.gz");
    await pipeline(createReadStream(plain), createGzip(), createWriteStream(gzipped));
    for (const file of [plain, gzipped]) {
      const fifo = `${file}.fifo`;
      execFileSync("mkfifo", [fifo]);
      const writing = pipeline(createReadStream(file), createWriteStream(fifo));
      const src = await archiveSource(fifo);
      await writing;
      assert.equal((await src.resolve()).digest, manifest.digest, file);
      await src.close();
    }
  });

  it("refuses a hostile archive without writing outside its temp dir", async () => {
    const sentinel = join(tmp, "sentinel");
    mkdirSync(sentinel);
    const pack = tar.pack();
    pack.entry({ name: "oci-layout" }, '{"imageLayoutVersion":"1.0.0"}');
    pack.entry({ name: "link", type: "symlink", linkname: sentinel });
    pack.entry({ name: "link/pwned" }, "x");
    pack.finalize();
    const file = join(tmp, "evil.tar");
    writeFileSync(file, await readAll(pack as unknown as NodeJS.ReadableStream));
    await assert.rejects(archiveSource(file), (e: unknown) => {
      assert.ok(e instanceof ShimError);
      assert.equal(e.code, Code.InvalidArgument);
      assert.match(
        e.message,
        /archive .*evil\.tar: refusing entry "link": the symlink target .* is absolute/,
      );
      return true;
    });
    assert.deepEqual(readdirSync(sentinel), []);
  });

  it("says what is wrong with a tar that is not a layout, and a missing file", async () => {
    const file = join(tmp, "plain.tar");
    execFileSync("tar", ["-C", tmp, "-cf", file, "a1.tar"]);
    await assert.rejects(
      archiveSource(file),
      (e: unknown) =>
        e instanceof ShimError &&
        e.code === Code.FailedPrecondition &&
        /not an OCI layout archive/.test(e.message),
    );
    await assert.rejects(
      archiveSource(join(tmp, "missing.tar")),
      (e: unknown) => e instanceof ShimError && e.code === Code.NotFound,
    );
    assert.equal(existsSync(join(tmp, "missing.tar")), false);
  });
});
