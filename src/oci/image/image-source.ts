/**
 * Where an image comes from: a registry, an OCI layout directory (`oci:DIR[:TAG]`) or an OCI layout archive
 * (`oci-archive:FILE[:TAG]`), named as skopeo names them. Like go-containerregistry's sources, a source is a
 * few accessors; pull.ts derives everything else (platform selection, verification, extraction) from them, so
 * the three sources share one pull path.
 */
import type { Readable } from "node:stream";
import type { Digest } from "../../internal/index.js";
import type { Descriptor } from "./types.js";

/** A manifest or index as fetched: its raw bytes (what the digest covers) and media type. */
export interface FetchedManifest {
  bytes: Buffer;
  /** The media type the source declared (Content-Type, or the descriptor's mediaType). */
  mediaType: string;
  /** sha256 of `bytes`. */
  digest: Digest;
}

/** A blob stream opened at `offset`; `offset` is 0 when the source could not honour a resume (HTTP 200 to a Range). */
export interface OpenedBlob {
  stream: Readable;
  offset: number;
}

export interface ImageSource {
  /** Human name for messages: `127.0.0.1:5000/hello:latest`, `oci:/tmp/layout:v1`. */
  readonly name: string;
  /**
   * Fetches the top-level manifest or index the source's tag or digest names. A source named by digest
   * verifies the bytes against it. Fails `NotFound` when the tag is unknown.
   */
  resolve(signal?: AbortSignal): Promise<FetchedManifest>;
  /** Fetches a child manifest or index by descriptor, verified against its digest and size (cap 4 MiB). */
  fetchManifest(desc: Descriptor, signal?: AbortSignal): Promise<FetchedManifest>;
  /** Opens a blob for reading from `offset` (for resume). The caller verifies the content while storing it. */
  openBlob(desc: Descriptor, offset: number, signal?: AbortSignal): Promise<OpenedBlob>;
  /** Releases connections or temporary files. */
  close(): Promise<void>;
}
