import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ShimError, sha256 } from "../../internal/index.js";
import { Annotation, type Descriptor, MediaType } from "../image/index.js";
import { OciLayout } from "./layout.js";

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "nodewasi-layout-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes a layout by hand with `blobs` and index entries named `refs` (one per manifest). */
function writeLayoutDir(
  name: string,
  refs: (string | undefined)[],
): { dir: string; manifests: Descriptor[] } {
  const dir = join(tmp, name);
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const manifests = refs.map((ref, i) => {
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciEmpty, digest: sha256("{}"), size: 2 },
        layers: [],
        n: i,
      }),
    );
    writeFileSync(join(dir, "blobs", "sha256", sha256(body).slice(7)), body);
    const d: Descriptor = { mediaType: MediaType.OciManifest, digest: sha256(body), size: body.length };
    if (ref !== undefined) d.annotations = { [Annotation.RefName]: ref };
    return d;
  });
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests }));
  return { dir, manifests };
}

const code = (c: Code, re: RegExp) => (e: unknown) =>
  e instanceof ShimError && e.code === c && re.test(e.message);

describe("OciLayout", () => {
  it("refuses what is not a layout, saying why", async () => {
    await assert.rejects(OciLayout.open(join(tmp, "nope")), code(Code.NotFound, /does not exist/));
    mkdirSync(join(tmp, "empty"));
    await assert.rejects(
      OciLayout.open(join(tmp, "empty")),
      code(Code.InvalidArgument, /no oci-layout file/),
    );
    writeFileSync(join(tmp, "empty", "oci-layout"), '{"imageLayoutVersion":"2.0.0"}');
    await assert.rejects(OciLayout.open(join(tmp, "empty")), code(Code.InvalidArgument, /only 1\.0\.0/));
    writeFileSync(join(tmp, "empty", "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    await assert.rejects(OciLayout.open(join(tmp, "empty")), code(Code.InvalidArgument, /no index\.json/));
    writeFileSync(join(tmp, "file"), "x");
    await assert.rejects(OciLayout.open(join(tmp, "file")), code(Code.InvalidArgument, /not a directory/));
  });

  it("finds images by ref name, skopeo style", async () => {
    const { dir, manifests } = writeLayoutDir("two", ["v1", "v2"]);
    const layout = await OciLayout.open(dir);
    assert.equal((await layout.findByRef("v2")).digest, manifests[1]!.digest);
    await assert.rejects(layout.findByRef("v3"), code(Code.NotFound, /no image named "v3".*it has: v1, v2/));
    await assert.rejects(
      layout.findByRef(),
      code(Code.NotFound, /holds 2 images, so a tag is needed.*v1, v2/),
    );
    const one = writeLayoutDir("one", [undefined]);
    assert.equal((await (await OciLayout.open(one.dir)).findByRef()).digest, one.manifests[0]!.digest);
  });

  it("reads blobs verified, and says which is missing or corrupt", async () => {
    const { dir, manifests } = writeLayoutDir("blobs", ["a"]);
    const layout = await OciLayout.open(dir);
    const d = manifests[0]!;
    assert.equal(await layout.has(d), true);
    const bytes = await layout.readBlob(d);
    assert.equal(sha256(bytes), d.digest);
    const chunks: Buffer[] = [];
    for await (const c of await layout.openBlob(d, 5)) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), bytes.subarray(5));
    // Same size, other bytes: DataLoss.
    const corrupt = Buffer.from(bytes);
    corrupt[0] = 0x20;
    writeFileSync(layout.blobPath(d.digest), corrupt);
    await assert.rejects(layout.readBlob(d), code(Code.DataLoss, /hash/));
    writeFileSync(layout.blobPath(d.digest), "short");
    assert.equal(await layout.has(d), false);
    await assert.rejects(layout.readBlob(d), code(Code.DataLoss, /is 5 bytes, its descriptor says/));
    rmSync(layout.blobPath(d.digest));
    await assert.rejects(layout.readBlob(d), code(Code.NotFound, /not in .*incomplete/));
    await assert.rejects(
      layout.readBlob({ ...d, size: 1 << 30 }),
      code(Code.FailedPrecondition, /read limit/),
    );
    assert.throws(
      () => layout.blobPath("sha256:../../etc" as never),
      code(Code.InvalidArgument, /invalid blob digest/),
    );
  });
});
