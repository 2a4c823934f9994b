/**
 * The content store on disk: an OCI image layout (layout.ts reads any layout) with nodewasi's folders
 * beside it; the resumable ingest of partial downloads, locks that name their holder, atomic writes and
 * batched appends, leases that protect a pull from prune, leftovers of dead processes, the index and its
 * backup, prune; and the record a pull keeps (pull-types.ts: `PullResult`, with a pull's options and
 * events).
 */
export { tempPath } from "./atomic-write.js";
export { BatchWriter } from "./batch-writer.js";
export { Ingest } from "./ingest.js";
export { checkLayout, OciLayout } from "./layout.js";
export { acquireLock, describeHolder } from "./lock.js";
export type { PullEvent, PullOptions, PullPolicy, PullResult } from "./pull-types.js";
export { READ_CHUNK, readFileStream } from "./read-file-stream.js";
export { ContentStore, type StoreOptions } from "./store.js";
export { imageGraph } from "./store-graph.js";
export { entryName, rebuildIndex } from "./store-index.js";
export { Lease } from "./store-lease.js";
export { findLeftovers, removeLeftovers } from "./store-leftovers.js";
export { verifyFile } from "./store-verify.js";
