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
 */
export * from "./internal/index.js";
export * from "./oci/index.js";
export * from "./wasi/index.js";
