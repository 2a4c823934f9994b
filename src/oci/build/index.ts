/**
 * Making images: `buildImage` (seven wasm formats, reproducible; `buildImageAsync` packs a gzip layer in one
 * pass off the main thread), `buildIndex`, `loadImage`, the tar writer, layout and archive writers, a built
 * image as an `ImageSource`, and `storeImage` and `buildIntoStore`, which store one through the ordinary pull.
 */
export {
  type BuildImageOptions,
  type BuiltImage,
  buildImage,
  buildImageAsync,
  IMAGE_FORMATS,
  type ImageFormat,
  TAR_LAYER_FORMATS,
} from "./build.js";
export { writeLayoutArchive } from "./build-archive.js";
export { type BuildIndexOptions, buildIndex, type IndexEntry } from "./build-index.js";
export { loadImage } from "./build-load.js";
export { buildIntoStore, storeImage } from "./build-store.js";
export { buildTar, type TarEntry } from "./build-tar.js";
export { builtImageSource } from "./built-source.js";
export { type LayoutImage, writeLayout } from "./layout-writer.js";
