/**
 * A built image (build.ts: a top descriptor and its blobs in memory) as an `ImageSource`, so what `buildImage`
 * or `buildIndex` returns can be pushed or copied without a layout on disk: `build --push` and the test
 * fixtures use it with `copyImage`.
 */
import { Readable } from "node:stream";
import { notFound } from "../internal/index.js";
import type { BuiltImage } from "./build.js";
import type { ImageSource } from "./image-source.js";
import type { Descriptor } from "./types.js";

/** An ImageSource over `built`; `name` is how messages name it. */
export function builtImageSource(
  built: BuiltImage,
  name = `built image ${built.manifest.digest}`,
): ImageSource {
  const bytes = (desc: Pick<Descriptor, "digest">): Buffer => {
    const b = built.blobs.get(desc.digest);
    if (!b) throw notFound(`${name}: blob ${desc.digest} was not built`);
    return b;
  };
  const manifest = (desc: Descriptor) => ({
    bytes: bytes(desc),
    mediaType: desc.mediaType,
    digest: desc.digest,
  });
  return {
    name,
    resolve: async () => manifest(built.manifest),
    fetchManifest: async (desc) => manifest(desc),
    openBlob: async (desc, offset) => ({ stream: Readable.from([bytes(desc).subarray(offset)]), offset }),
    close: async () => {},
  };
}
