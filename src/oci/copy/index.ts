/**
 * Copying images out: an image with all its blobs from any source to a registry, a layout, an archive
 * or the store (those destinations), and what `nodewasi push`, `copy` and `tag` do from the names a
 * user types.
 */
export { copyByName, copyToStore, invalidPushTarget, pushImage, tagStoredImage } from "./copy-by-name.js";
export type { CopyEvent, CopyOptions, CopyResult } from "./copy-types.js";
