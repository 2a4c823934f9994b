/**
 * Images: references, platforms, media types, the registry client with its auth, the content store, pull,
 * unpack and build. Knows nothing of running modules, of tasks or of containerd.
 */
export * from "./build.js";
export * from "./build-archive.js";
export * from "./build-component.js";
export * from "./build-index.js";
export * from "./build-load.js";
export * from "./build-store.js";
export * from "./build-tar.js";
export * from "./built-source.js";
export * from "./copy.js";
export * from "./copy-layout.js";
export * from "./copy-registry.js";
export * from "./copy-types.js";
export * from "./format.js";
export * from "./image-source.js";
export * from "./layout-source.js";
export * from "./layout-writer.js";
export * from "./lock.js";
export * from "./manifest.js";
export * from "./media-types.js";
export * from "./open-source.js";
export * from "./platform.js";
export * from "./pull.js";
export * from "./pull-types.js";
export * from "./push.js";
export * from "./reference.js";
export * from "./registry/index.js";
export * from "./store.js";
export * from "./store-check.js";
export * from "./types.js";
