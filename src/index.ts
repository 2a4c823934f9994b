/**
 * The nodewasi library: what the `nodewasi` command does, as functions.
 *
 * ```ts
 * import { pull } from "nodewasi";
 * const r = await pull("127.0.0.1:5000/hello:latest", { root: "/tmp/store" });
 * console.log(r.module.path, r.platform, r.format);
 * ```
 *
 * - Images: `pull`, `ContentStore` (images, resolve, untag, prune), `parseReference`, `parsePlatform`,
 *   `selectManifest`, `classifyImage`, `RegistryClient`, the builders `buildImage`, `buildIndex`,
 *   `writeLayout`; `storeImage` (a built image into the store, as a pull), `loadImage`, `writeLayoutArchive`.
 * - Modules: `inspectWasm` (module or component, imports, exports, memory).
 * - Errors: every failure is a `ShimError` with a gRPC `Code`.
 * - Logging: `createLogger` makes the `Logger` the options above take.
 */
export {
  Code,
  createLogger,
  type Digest,
  type Logger,
  ShimError,
  type ShimErrorOptions,
} from "./internal/index.js";
export {
  type BuildImageOptions,
  type BuildIndexOptions,
  type BuiltImage,
  buildImage,
  buildIndex,
  type ClassifyOptions,
  ContentStore,
  classifyImage,
  type ImageFormat,
  type IndexEntry,
  type LayoutImage,
  loadImage,
  type ModuleLocation,
  type Platform,
  type PullOptions,
  type PullResult,
  parsePlatform,
  parseReference,
  pull,
  type Reference,
  RegistryClient,
  type RegistryClientOptions,
  type StoreOptions,
  selectManifest,
  storeImage,
  type WasmFormat,
  writeLayout,
  writeLayoutArchive,
} from "./oci/index.js";
export { inspectWasm, type WasmInfo } from "./wasi/index.js";
