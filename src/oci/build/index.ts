/**
 * Making images: `buildImage` (seven wasm formats, reproducible), `buildIndex`, `loadImage`, the tar
 * writer, layout and archive writers, a built image as an `ImageSource`, and `storeImage`, which stores
 * one through the ordinary pull.
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
export { storeImage } from "./build-store.js";
export { buildTar, type TarEntry } from "./build-tar.js";
export { builtImageSource } from "./built-source.js";
export { type LayoutImage, writeLayout } from "./layout-writer.js";
