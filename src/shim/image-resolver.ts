/**
 * How a task created from an image reference gets its module: oci's `pull` with the task's pull policy (from
 * the store when the policy allows and the image is there, else from its source). Two callers:
 * `CreateOptions.image` (the `nodewasi run` path), and a containerd bundle whose rootfs has no module but whose
 * annotations name an image (bundle-image.ts). The Task service is handed an `ImageResolver`, so tests can give
 * it a fake. Pulls, retries and failures are logged (the shim's log: containerd copies it into its own).
 */
import { join } from "node:path";
import { type Logger, sha256, silentLogger } from "../internal/index.js";
import type { Platform, PullEvent, PullPolicy, PullResult } from "../oci/index.js";

/** containerd's rule for namespace names (containerd pkg/identifiers): safe as one path component. */
const NAMESPACE_RE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/**
 * The content store a shim under containerd pulls into: `<root>/containerd/<namespace>`. containerd keeps
 * images apart per namespace, so an image pulled with one namespace's credentials is not served from the
 * store to another's containers; within a namespace a stored image is reused, as a kubelet's IfNotPresent.
 * containerd validates namespace names; an empty one (a shim run by hand) is containerd's `default`, and
 * anything else that is no such name becomes a hash of it, never a path.
 */
export function namespaceStoreRoot(root: string, namespace: string): string {
  const ns = namespace || "default";
  const dir = NAMESPACE_RE.test(ns) ? ns : `ns-${sha256(Buffer.from(ns)).slice(7, 23)}`;
  return join(root, "containerd", dir);
}

export interface ResolveRequest {
  image: string;
  platform?: string;
  plainHttp?: boolean;
  policy: PullPolicy;
  /** Why the image is needed, for the log line a pull starts with (`task app: the rootfs has no /app.wasm`). */
  why?: string;
  onEvent?: (e: PullEvent) => void;
  signal?: AbortSignal;
}

export interface ImageResolver {
  resolve(req: ResolveRequest): Promise<PullResult>;
}

/** Resolves images against the content store at `root`. */
export class StoreImageResolver implements ImageResolver {
  readonly root: string;
  readonly #logger: Logger;

  constructor(root: string, logger: Logger = silentLogger) {
    this.root = root;
    this.#logger = logger;
  }

  async resolve(req: ResolveRequest): Promise<PullResult> {
    // oci/ (undici, tar, zstd) is loaded when an image is needed: a shim under containerd mostly gets its
    // rootfs unpacked, and containerd waits for the daemon's boot on every `ctr run`.
    const oci = await import("../oci/index.js");
    const platform: Platform | undefined = req.platform ? oci.parsePlatform(req.platform) : undefined;
    const log = this.#logger;
    let fetching = false;
    const onEvent = (e: PullEvent) => {
      if (e.type === "blob-retry") {
        log.warn(`pulling ${req.image}: blob ${e.digest} failed (${e.reason}); retry ${e.attempt}`, {
          offset: e.offset,
          delayMs: e.delayMs,
        });
      }
      req.onEvent?.(e);
    };
    try {
      // The policy is the pull's: an image it answers from the store is logged there (at debug), not here.
      const result = await oci.pull(req.image, {
        root: this.root,
        policy: req.policy,
        logger: log,
        onEvent,
        onFetch: () => {
          fetching = true;
          log.info(`pulling ${req.image}${req.why ? ` (${req.why})` : ""}`, { root: this.root });
        },
        ...(platform ? { platform } : {}),
        ...(req.plainHttp !== undefined ? { plainHttp: req.plainHttp } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      if (fetching) {
        log.info(`pulled ${result.name}: ${result.formatDescription}`, {
          manifest: result.manifest.digest,
          module: result.module.digest,
          bytesFetched: result.bytesFetched,
        });
      }
      return result;
    } catch (err) {
      if (fetching) log.warn(`pulling ${req.image} failed: ${(err as Error).message}`);
      throw err;
    }
  }
}
