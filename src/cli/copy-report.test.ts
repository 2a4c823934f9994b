import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, type Digest, ShimError } from "../internal/index.js";
import { copySummary, parseChunkSize } from "./copy-report.js";
import { createLineProgress, PUSH_WORDS } from "./progress-lines.js";

const d = (c: string): Digest => `sha256:${c.repeat(64)}`;

describe("push progress and output", () => {
  it("lines say pushing/pushed, exists and mounted, and each manifest written", () => {
    const lines: string[] = [];
    let t = 0;
    const p = createLineProgress(
      (l) => lines.push(l),
      () => t,
      PUSH_WORDS,
    );
    p.onEvent({ type: "blob-start", digest: d("a"), size: 2048, offset: 0, mediaType: "l" });
    t += 1000;
    p.onEvent({ type: "blob-done", digest: d("a"), size: 2048, cached: false, outcome: "uploaded" });
    p.onEvent({ type: "blob-done", digest: d("b"), size: 10, cached: true, outcome: "exists" });
    p.onEvent({ type: "blob-done", digest: d("c"), size: 10, cached: true, outcome: "mounted" });
    p.onEvent({
      type: "manifest",
      digest: d("e"),
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      size: 400,
      top: false,
    });
    p.onEvent({
      type: "manifest",
      digest: d("f"),
      mediaType: "application/vnd.oci.image.index.v1+json",
      size: 300,
      top: true,
    });
    assert.deepEqual(lines, [
      "pushing sha256:aaaaaaaaaaaa 2.0 KiB\n",
      "pushed sha256:aaaaaaaaaaaa 2.0 KiB in 1.0s (2.0 KiB/s)\n",
      "exists sha256:bbbbbbbbbbbb 10 B\n",
      "mounted sha256:cccccccccccc 10 B\n",
      "pushed child manifest sha256:eeeeeeeeeeee 400 B\n",
      "pushed index sha256:ffffffffffff 300 B\n",
    ]);
  });

  it("--chunk-size takes bytes or KiB/MiB/GiB, and refuses anything else as a usage error", () => {
    assert.equal(parseChunkSize("65536"), 65536);
    assert.equal(parseChunkSize("64KiB"), 65536);
    assert.equal(parseChunkSize("16mib"), 16 * 1024 * 1024);
    for (const bad of ["0", "-1", "1.5MiB", "lots", "16MB"]) {
      assert.throws(
        () => parseChunkSize(bad),
        (e: unknown) =>
          e instanceof ShimError && e.code === Code.InvalidArgument && /--chunk-size/.test(e.message),
        bad,
      );
    }
  });

  it("the summary names source, destination, digest and what each blob took", () => {
    const text = copySummary({
      source: "oci:/l:v1",
      destination: "r.example/a:v1",
      digest: d("a"),
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      size: 400,
      manifests: 1,
      blobs: { uploaded: 1, exists: 2, mounted: 3 },
      bytesUploaded: 2048,
    });
    assert.match(text, /^source: +oci:\/l:v1$/m);
    assert.match(text, /^destination: +r\.example\/a:v1$/m);
    assert.match(text, /^blobs: +1 uploaded \(2\.0 KiB\), 2 already there, 3 mounted$/m);
  });
});
