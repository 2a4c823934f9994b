/**
 * Hostile OCI layouts (issue 6 item 3): an `oci:` directory or an unpacked `oci-archive:` is as untrusted as
 * a registry. Whatever `oci-layout` and `index.json` hold (wrong types, deep nesting, noise, entries pointing
 * at missing or mismatching blobs), opening it and resolving a tag gives a manifest or a `ShimError` with a
 * documented code, never another exception.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
  anyJson,
  assertShimError,
  checkProperty,
  deepJson,
  mutatedJson,
  settlesWithin,
} from "../../../test/harness/property.js";
import { Code, sha256 } from "../../internal/index.js";
import { MediaType } from "../image/index.js";
import { layoutSource } from "./layout-source.js";

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: sha256("{}"), size: 2 },
    layers: [],
  }),
);
const goodIndex = {
  schemaVersion: 2,
  manifests: [
    {
      mediaType: MediaType.OciManifest,
      digest: sha256(MANIFEST),
      size: MANIFEST.length,
      annotations: { "org.opencontainers.image.ref.name": "v1" },
    },
  ],
};
const CODES = [
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.ResourceExhausted,
  Code.DataLoss,
];

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nodewasi-layout-prop-"));
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  await writeFile(join(dir, "blobs", "sha256", sha256(MANIFEST).slice(7)), MANIFEST);
});
after(() => rm(dir, { recursive: true, force: true }));

const text = (v: unknown) => JSON.stringify(v) ?? "";

describe("hostile OCI layouts (property)", () => {
  it("resolve to a manifest or fail with a ShimError", async () => {
    await checkProperty(
      fc.asyncProperty(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(text({ imageLayoutVersion: "1.0.0" })) },
          { weight: 1, arbitrary: mutatedJson({ imageLayoutVersion: "1.0.0" }).map(text) },
          {
            weight: 1,
            arbitrary: fc.constantFrom(`{"imageLayoutVersion":${deepJson(20_000, "array")}}`, "null", ""),
          },
        ),
        fc.oneof(
          { weight: 3, arbitrary: mutatedJson(goodIndex).map(text) },
          { weight: 1, arbitrary: anyJson.map(text) },
        ),
        fc.constantFrom(undefined, "v1", "v2", ""),
        async (layout, index, tag) => {
          await writeFile(join(dir, "oci-layout"), layout);
          await writeFile(join(dir, "index.json"), index);
          await settlesWithin(
            5000,
            "layoutSource",
            async () => {
              const source = await layoutSource(dir, tag);
              try {
                const fetched = await source.resolve();
                assert.ok(fetched.bytes.length > 0);
              } finally {
                await source.close();
              }
            },
            CODES,
          );
        },
      ),
      200,
    );
  });

  it("regression: a deeply nested imageLayoutVersion is InvalidArgument, not a RangeError", async () => {
    await writeFile(join(dir, "oci-layout"), `{"imageLayoutVersion":${deepJson(20_000, "array")}}`);
    await writeFile(join(dir, "index.json"), text(goodIndex));
    await assert.rejects(layoutSource(dir, "v1"), (err) => {
      assert.match(
        assertShimError(err, [Code.InvalidArgument], "oci-layout").message,
        /imageLayoutVersion is/,
      );
      return true;
    });
  });
});
