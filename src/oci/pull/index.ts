/**
 * Getting an image into the store: `pull` and `pullFrom` (resolve, select, fetch with resume, unpack
 * while downloading, extract the module, tag), the sources a user names (`openSource`: a registry,
 * `oci:` and `oci-archive:` layouts) and `checkStore`, which repairs a store by pulling again.
 */
export { rootfsKey, type UnpackedRootfs } from "./extract.js";
export { fetchBlob, isRetryable, isStall, STALL_ATTEMPTS } from "./fetch-blob.js";
export { archiveSource, layoutSource } from "./layout-source.js";
export { type OpenSourceOptions, openSource, sourceName } from "./open-source.js";
export { pull, pullFrom } from "./pull.js";
export { type CheckProblem, type CheckReport, checkFailure, checkStore } from "./store-check.js";
