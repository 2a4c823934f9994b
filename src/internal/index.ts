/**
 * Leaf helpers every other folder may use: the one error type with gRPC codes, digests, logging, abort and
 * timeouts, state paths, containerd's identifier rule, the mount table. Imports nothing from the rest of nodewasi.
 */
export * from "./abort.js";
export * from "./byte-size.js";
export * from "./daemon-readiness.js";
export * from "./digest.js";
export * from "./duration.js";
export * from "./fs.js";
export * from "./identifier.js";
export * from "./log.js";
export * from "./mount-info.js";
export * from "./paths.js";
export * from "./process-identity.js";
export * from "./root-owner.js";
export * from "./shim-error.js";
export * from "./socket-probe.js";
export * from "./wasm-header.js";
