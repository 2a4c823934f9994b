/**
 * Images: references, platforms, manifests, the registry client, the content store, pull, unpack, build and
 * copy. Knows nothing of running modules, of tasks or of containerd.
 *
 * Sub-rooms, in dependency order: each imports only the rooms it names, and only through their index.ts
 * (test/architecture.test.ts checks both):
 *
 *   image/     the model: references, platforms, media types, manifests, classifyImage, ImageSource
 *   registry/  the distribution API on undici (uses image)
 *   store/     the content store: layout, ingest, locks, leases, index, prune (uses image)
 *   unpack/    hostile-input-safe tar unpacking (uses image, store)
 *   pull/      pull, the sources a user names, checkStore (uses image, registry, store, unpack)
 *   build/     image, index and layout builders, storeImage (uses image, store, unpack, pull)
 *   copy/      images out; push, copy, tag (uses image, registry, store, pull, build)
 *
 * What other folders and the library (src/index.ts) use is exported here, by name.
 */

export {
  type BuildImageOptions,
  type BuildIndexOptions,
  type BuiltImage,
  buildImage,
  buildImageAsync,
  buildIndex,
  buildIntoStore,
  builtImageSource,
  IMAGE_FORMATS,
  type ImageFormat,
  type IndexEntry,
  type LayoutImage,
  loadImage,
  storeImage,
  TAR_LAYER_FORMATS,
  type TarEntry,
  writeLayout,
  writeLayoutArchive,
} from "./build/index.js";
export {
  type CopyEvent,
  type CopyOptions,
  type CopyResult,
  copyByName,
  copyToStore,
  invalidPushTarget,
  pushImage,
  tagStoredImage,
} from "./copy/index.js";
export {
  Annotation,
  type ClassifyOptions,
  classifyImage,
  type Descriptor,
  formatPlatform,
  formatReference,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  isManifestType,
  MediaType,
  type ModuleLocation,
  type Platform,
  parsePlatform,
  parseReference,
  parseSourceSpec,
  type Reference,
  selectManifest,
  type WasmFormat,
} from "./image/index.js";
export {
  type CheckProblem,
  type CheckReport,
  checkFailure,
  checkStore,
  layoutSource,
  openSource,
  pull,
  pullFrom,
  sourceName,
} from "./pull/index.js";
export { RegistryClient, type RegistryClientOptions } from "./registry/index.js";
export {
  acquireLock,
  ContentStore,
  describeHolder,
  type PullEvent,
  type PullOptions,
  type PullPolicy,
  type PullResult,
  type StoreOptions,
} from "./store/index.js";
