/**
 * The contract of `copyToDestination` (copy-to-destination.ts) and of `pushImage` / `copyByName` /
 * `tagStoredImage` (copy-by-name.ts): what they take, what they report while they work, and what they return.
 * Blob events have the shape of pull's, so the CLI draws the same progress bars and lines for both.
 */
import type { Digest, Logger } from "../../internal/index.js";
import type { Descriptor, ImageSource, Reference } from "../image/index.js";

/** How a blob reached the destination. */
export type BlobOutcome = "uploaded" | "exists" | "mounted";

export type CopyEvent =
  /** The top-level manifest or index was read from the source. */
  | { type: "resolved"; name: string; digest: Digest; mediaType: string }
  /** A blob upload started, progressed, or ended (`cached` when nothing was sent: it existed or was mounted). */
  | { type: "blob-start"; digest: Digest; size: number; offset: number; mediaType: string }
  | { type: "blob-progress"; digest: Digest; size: number; done: number }
  | { type: "blob-done"; digest: Digest; size: number; cached: boolean; outcome: BlobOutcome }
  /** An upload broke and starts again from `offset` after `delayMs`. */
  | { type: "blob-retry"; digest: Digest; offset: number; attempt: number; delayMs: number; reason: string }
  /** A manifest or index was written: the top one (named as the destination says) or a child, by digest. */
  | { type: "manifest"; digest: Digest; mediaType: string; size: number; top: boolean };

export interface CopyOptions {
  /** Allow plain HTTP to non-loopback registries. */
  plainHttp?: boolean;
  /** The registry timeout in ms, as `PullOptions.registryTimeoutMs` (pull-types.ts). */
  registryTimeoutMs?: number;
  /** Parallel blob uploads (default 4, as pull downloads). */
  concurrency?: number;
  /**
   * Upload blobs larger than this in PATCH chunks of `chunkSize` bytes (default 96 MiB: proxies such as
   * Cloudflare refuse request bodies over 100 MB). 0 sends every blob in chunks.
   */
  chunkThreshold?: number;
  /** Chunk size for chunked uploads (default 32 MiB). */
  chunkSize?: number;
  /** Tries per blob upload; a try that breaks starts a fresh upload session (default 5). */
  attempts?: number;
  /** A repository on the destination registry that may hold the blobs already: mounted from, not uploaded. */
  mountFrom?: Reference;
  onEvent?: (event: CopyEvent) => void;
  logger?: Logger;
  signal?: AbortSignal;
  /** Environment for Docker credentials (tests). */
  env?: NodeJS.ProcessEnv;
}

/** What a copy did. `--json` prints it. */
export interface CopyResult {
  /** The source as named (`127.0.0.1:5000/hello:v1`, `oci:/abs/dir:tag`). */
  source: string;
  destination: string;
  /** Digest, media type and size of the top manifest or index written. */
  digest: Digest;
  mediaType: string;
  size: number;
  /** Manifests written (the top one and, for an index, its children). */
  manifests: number;
  blobs: { uploaded: number; exists: number; mounted: number };
  /** Blob bytes sent to the destination (0 when everything was there). */
  bytesUploaded: number;
}

/** What a destination receives; implemented for registries, OCI layouts, archives and the store. */
export interface ImageDestination {
  /** Human name for messages and results. */
  readonly name: string;
  /**
   * Makes the destination hold `desc`, reading it from `source` only when it must be sent. Reports
   * `blob-start`, `blob-progress` and `blob-retry` while it sends, and returns how the blob got there
   * (`copyToDestination` reports `blob-done`).
   */
  putBlob(desc: Descriptor, source: ImageSource, opts: PutBlobOptions): Promise<BlobOutcome>;
  /**
   * Writes a manifest or index: the top one under the destination's tag (or digest), an index's children
   * (`top` false) by digest only.
   */
  putManifest(desc: Descriptor, bytes: Buffer, top: boolean, signal?: AbortSignal): Promise<void>;
  /** Finishes (an archive is written here) and releases what the destination held. */
  close(ok: boolean): Promise<void>;
}

export interface PutBlobOptions {
  onEvent: (event: CopyEvent) => void;
  signal?: AbortSignal;
}
