/**
 * Images: references, platforms, media types, the registry client with its auth, the content store, pull,
 * unpack and build. Knows nothing of running modules, of tasks or of containerd.
 */
export * from "./image-source.js";
export * from "./media-types.js";
export * from "./pull-types.js";
export * from "./types.js";
