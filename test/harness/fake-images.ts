/**
 * An ImageResolver that pulls nothing: every reference resolves to one stored image whose rootfs is
 * `<dir>/image` with its module at `/hello.wasm`. For unit tests of task setup and the Task service, where a
 * registry adds nothing but time (STYLE "Seams"); the test writes the rootfs.
 */
import { join } from "node:path";
import type { PullResult } from "../../src/oci/index.js";
import type { ImageResolver, ResolveRequest } from "../../src/shim/index.js";

export class FakeImages implements ImageResolver {
  /** Every request, in order. */
  readonly requests: ResolveRequest[] = [];
  readonly dir: string;
  /** Fields of the image record that a test sets (entrypoint, env, workingDir...). */
  readonly image: Partial<PullResult>;

  constructor(dir: string, image: Partial<PullResult> = {}) {
    this.dir = dir;
    this.image = image;
  }

  async resolve(req: ResolveRequest): Promise<PullResult> {
    this.requests.push(req);
    return {
      name: req.image,
      digest: `sha256:${"a".repeat(64)}`,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      manifest: { mediaType: "m", digest: `sha256:${"a".repeat(64)}`, size: 1 },
      platform: { os: "wasip1", architecture: "wasm" },
      format: "image",
      formatDescription: "test",
      module: {
        digest: `sha256:${"b".repeat(64)}`,
        size: 8,
        kind: "module",
        path: join(this.dir, "image", "hello.wasm"),
        source: "/hello.wasm",
      },
      rootfs: join(this.dir, "image"),
      entrypoint: ["/hello.wasm"],
      env: ["PATH=/bin", "A=image"],
      workingDir: "/",
      bytesFetched: 0,
      ...this.image,
    };
  }
}
