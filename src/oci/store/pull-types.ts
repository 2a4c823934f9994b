/**
 * The contract of `pull` (src/oci/pull/pull.ts): what it takes (the pull policy among it), what it reports while it
 * works, and what it returns. The CLI renders `PullEvent`s as progress bars on a terminal and plain lines
 * otherwise; `--json` prints the `PullResult`.
 */
import type { Digest, Logger, WasmKind } from "../../internal/index.js";
import type { Descriptor, Platform } from "../image/index.js";

/**
 * When a pull goes to the image's source, as Kubernetes' imagePullPolicy and `docker run --pull` put it:
 * `always` resolves the reference at its source every time (what is stored already is not fetched again);
 * `missing` answers from the store when the image is there (its pull record, module and rootfs), fetching
 * nothing; `never` answers from the store or fails with NotFound. The one definition: the shim's resolver, its
 * Images service and the CLI take this type, and the nodewasi.v1 enum is translated to it in one place
 * (src/shim/pull-codec.ts).
 */
export type PullPolicy = "always" | "missing" | "never";

export interface PullOptions {
  /** Whether to go to the source at all (default `always`). */
  policy?: PullPolicy;
  /** The content store root; default `defaultRoot()`. */
  root?: string;
  /** Override platform selection (`wasi/wasm`). */
  platform?: Platform;
  /** Allow plain HTTP to non-loopback registries. */
  plainHttp?: boolean;
  /**
   * The longest a registry may stay silent, in ms: connecting, before answering, between body bytes (0: no
   * limit). Default `$NODEWASI_REGISTRY_TIMEOUT`, else 30 s (oci/registry/timeouts.ts).
   */
  registryTimeoutMs?: number;
  /** Parallel layer downloads (default 4). */
  concurrency?: number;
  /** The longest wait for a store lock another live process holds (default: while it renews it; lock.ts). */
  lockTimeoutMs?: number;
  /**
   * Progress, in order. A pull answered from the store by its policy reports nothing: its only answer is the
   * result (so a caller shows no progress for it).
   */
  onEvent?: (event: PullEvent) => void;
  /**
   * Called once when the pull goes to the source, before anything is fetched: always with policy `always`, with
   * `missing` only when the store does not have the image. The shim logs its "pulling" line here, and not for
   * an image it runs from the store.
   */
  onFetch?: () => void;
  logger?: Logger;
  signal?: AbortSignal;
}

export type PullEvent =
  /** The top-level manifest or index was fetched. */
  | { type: "resolved"; name: string; digest: Digest; mediaType: string }
  /** A manifest was chosen; `layers` is what will be fetched. */
  | { type: "selected"; platform: Platform; format: string; manifest: Descriptor; layers: Descriptor[] }
  /** A blob download started (`offset` > 0 when resumed), progressed, or finished (`cached` when already stored). */
  | { type: "blob-start"; digest: Digest; size: number; offset: number; mediaType: string }
  | { type: "blob-progress"; digest: Digest; size: number; done: number }
  | { type: "blob-done"; digest: Digest; size: number; cached: boolean }
  /** A download failed and will be retried from `offset` after `delayMs`. */
  | { type: "blob-retry"; digest: Digest; offset: number; attempt: number; delayMs: number; reason: string }
  /** The module was extracted (or found already extracted). */
  | { type: "extracted"; module: Digest; size: number; cached: boolean }
  /** The pull waits for a store lock another process holds: `holder` says who and since when (lock.ts). */
  | { type: "waiting"; what: string; holder: string; waitedMs: number }
  /**
   * The pull found something wrong in the store and dealt with it: stored content that no longer matches its
   * digest (removed, then fetched or extracted again), or what a killed process left (removed).
   */
  | { type: "repaired"; path: string; problem: string; action: string };

export interface PullResult {
  /** Canonical name the image is stored under (`127.0.0.1:5000/hello:latest`, `oci:/path:tag`). */
  name: string;
  /** Digest of what the name resolved to (an index or a manifest). */
  digest: Digest;
  mediaType: string;
  /** The manifest chosen for the platform. */
  manifest: Descriptor;
  platform: Platform;
  /** Format of the image (image/classify.ts `WasmFormat`) and a one-line description. */
  format: string;
  formatDescription: string;
  module: {
    digest: Digest;
    size: number;
    kind: WasmKind;
    /** Absolute path of the extracted module in the store. */
    path: string;
    /** Path of the module inside the image (`/hello.wasm`), or the layer digest for raw layers. */
    source: string;
  };
  /** The unpacked rootfs directory, when the image has tar layers. */
  rootfs?: string;
  entrypoint: string[];
  env: string[];
  workingDir: string;
  /** Bytes fetched over the network in this pull (0 when everything was cached). */
  bytesFetched: number;
}
