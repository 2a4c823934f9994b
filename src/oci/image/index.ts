/**
 * The image model: references and source specs, platforms and their ranking, media types, descriptors,
 * manifests and configs as parsed and validated, `classifyImage` (where an image keeps its module), and
 * `ImageSource`, the four accessors every source of images implements. No I/O beyond what a source does.
 */
export {
  type ClassifyOptions,
  classifyImage,
  configIsJson,
  type ModuleLocation,
  type WasmFormat,
} from "./classify.js";
export type { FetchedManifest, ImageSource, OpenedBlob } from "./image-source.js";
export { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, parseImageConfig, parseManifest } from "./manifest.js";
export {
  isIndexType,
  isManifestType,
  type LayerCompression,
  MANIFEST_ACCEPT,
  MediaType,
  tarLayerCompression,
} from "./media-types.js";
export {
  configPlatform,
  formatPlatform,
  MAX_INDEX_DEPTH,
  parsePlatform,
  platformMatches,
  selectManifest,
} from "./platform.js";
export {
  DOCKER_HUB,
  formatReference,
  formatSourceSpec,
  type ImageSourceSpec,
  isLoopbackRegistry,
  parseReference,
  parseSourceSpec,
  type Reference,
  registryHost,
} from "./reference.js";
export {
  Annotation,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from "./types.js";
