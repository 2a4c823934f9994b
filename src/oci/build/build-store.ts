/**
 * Puts a built image (or index) into the content store exactly as if it had been pulled: every blob is
 * stored, then the ordinary pull (`pullFrom`) runs over an in-memory source of the image, so the chosen
 * manifest, the unpacked rootfs, the extracted module, the pull record and the tag are all made by the code
 * that makes them for a registry image. `nodewasi images`, `inspect`, `run` and `push` then see no difference
 * between a built image and a pulled one.
 */

import { pullFrom } from "../pull/index.js";
import type { ContentStore, PullOptions, PullResult } from "../store/index.js";
import type { BuiltImage } from "./build.js";
import { builtImageSource } from "./built-source.js";

/**
 * Stores every blob of `image` (an index keeps all its entries, not only the wasm one, so it can be pushed
 * whole), then pulls it from memory under `name` (a canonical name, see `sourceName`). `opts.platform` picks
 * the entry of an index, or accepts a single non-wasm-platform image, as `pull --platform` does.
 */
export async function storeImage(
  store: ContentStore,
  image: BuiltImage,
  name: string,
  opts: Omit<PullOptions, "root" | "plainHttp" | "concurrency"> = {},
): Promise<PullResult> {
  for (const data of image.blobs.values()) await store.writeBlob(data);
  return pullFrom(store, builtImageSource(image, name), name, opts);
}
