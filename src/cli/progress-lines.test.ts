import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Digest } from "../internal/index.js";
import { createLineProgress } from "./progress-lines.js";

const d = (c: string): Digest => `sha256:${c.repeat(64)}`;

describe("createLineProgress", () => {
  it("prints one plain line per step with short digests, sizes and speed", () => {
    const lines: string[] = [];
    let t = 1000;
    const p = createLineProgress(
      (l) => lines.push(l),
      () => t,
    );
    p.onEvent({
      type: "resolved",
      name: "oci:/x:v1",
      digest: d("a"),
      mediaType: "application/vnd.oci.image.index.v1+json",
    });
    p.onEvent({
      type: "selected",
      platform: { os: "wasip1", architecture: "wasm" },
      format: "image",
      manifest: { mediaType: "m", digest: d("b"), size: 10 },
      layers: [{ mediaType: "l", digest: d("c"), size: 2 * 1024 * 1024 }],
    });
    p.onEvent({ type: "blob-start", digest: d("c"), size: 2 * 1024 * 1024, offset: 0, mediaType: "l" });
    p.onEvent({ type: "blob-progress", digest: d("c"), size: 2 * 1024 * 1024, done: 1024 });
    t += 2000;
    p.onEvent({ type: "blob-done", digest: d("c"), size: 2 * 1024 * 1024, cached: false });
    p.onEvent({ type: "blob-done", digest: d("e"), size: 10, cached: true });
    p.onEvent({ type: "extracted", module: d("f"), size: 1536, cached: false });
    p.stop(true);
    assert.deepEqual(lines, [
      `resolved oci:/x:v1 to ${d("a")}\n`,
      "platform wasip1/wasm, format image (manifest sha256:bbbbbbbbbbbb, 1 layer, 2.0 MiB)\n",
      "fetching sha256:cccccccccccc 2.0 MiB\n",
      "fetched sha256:cccccccccccc 2.0 MiB in 2.0s (1.0 MiB/s)\n",
      "cached sha256:eeeeeeeeeeee 10 B\n",
      "extracted module sha256:ffffffffffff 1.5 KiB\n",
    ]);
  });

  it("says when a download resumes or is retried", () => {
    const lines: string[] = [];
    const p = createLineProgress((l) => lines.push(l));
    p.onEvent({ type: "blob-start", digest: d("c"), size: 4096, offset: 1024, mediaType: "l" });
    p.onEvent({
      type: "blob-retry",
      digest: d("c"),
      offset: 2048,
      attempt: 2,
      delayMs: 500,
      reason: "socket hang up",
    });
    p.onEvent({ type: "extracted", module: d("f"), size: 10, cached: true });
    assert.deepEqual(lines, [
      "fetching sha256:cccccccccccc 4.0 KiB (resuming at 1.0 KiB)\n",
      "retrying sha256:cccccccccccc at 2.0 KiB in 500ms (attempt 2): socket hang up\n",
      "module sha256:ffffffffffff 10 B already extracted\n",
    ]);
  });
});
