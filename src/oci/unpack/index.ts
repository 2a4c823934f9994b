/**
 * Hostile-input-safe tar unpacking (DESIGN decision 13): gzip, zstd and plain layers, whiteouts, paths
 * and links kept inside the root, limits on entries, sizes and ratio.
 */
export { type FileDigest, UNKNOWN, unpackLayer } from "./unpack.js";
export { type UnpackLimits, unpackLimitsFrom } from "./unpack-limits.js";
