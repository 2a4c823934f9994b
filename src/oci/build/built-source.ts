/**
 * A built image (build.ts: a top descriptor and its blobs in memory) as an `ImageSource`, so what `buildImage`
 * or `buildIndex` returns can be pushed or copied without a layout on disk: `build --push` and the test
 * fixtures use it with `copyToDestination`.
 */
import { Readable } from "node:stream";
import { notFound, sha256, verifyContent } from "../../internal/index.js";
import type { Descriptor, FetchedManifest, ImageSource, OpenedBlob } from "../image/index.js";
import type { BuiltImage } from "./build.js";

/**
 * An ImageSource over `image`, named `name` in messages. Everything it hands out is checked against the
 * descriptor asked for, as a registry's content would be.
 */
export function builtImageSource(
  image: BuiltImage,
  name = `built image ${image.manifest.digest}`,
): ImageSource {
  const blob = (desc: Descriptor): Buffer => {
    const data = image.blobs.get(desc.digest);
    if (!data) throw notFound(`${name}: blob ${desc.digest} is not part of the built image`);
    verifyContent(desc, data.length, sha256(data));
    return data;
  };
  const manifest = (desc: Descriptor): FetchedManifest => ({
    bytes: blob(desc),
    mediaType: desc.mediaType,
    digest: desc.digest,
  });
  return {
    name,
    resolve: async () => manifest(image.manifest),
    fetchManifest: async (desc) => manifest(desc),
    openBlob: async (desc, offset): Promise<OpenedBlob> => {
      const data = blob(desc);
      const start = Math.min(offset, data.length);
      return { stream: Readable.from([data.subarray(start)]), offset: start };
    },
    close: async () => {},
  };
}
