/**
 * How a task created from an image reference gets its module: from the store when the pull policy allows and
 * the image is there, else by pulling it. Two callers: `CreateOptions.image` (the `nodewasi run` path), and a
 * containerd bundle whose rootfs has no module but whose annotations name an image (bundle-image.ts). The Task
 * service is handed an `ImageResolver`, so tests can give it a fake. Pulls, retries and failures are logged
 * (the shim's log: containerd copies it into its own).
 */
import { join } from "node:path";
import { type Logger, notFound, pathExists, sha256, silentLogger } from "../internal/index.js";
import type { Platform, PullEvent, PullResult } from "../oci/index.js";

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

export type PullPolicy = "missing" | "always" | "never";

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
    if (req.policy !== "always") {
      const stored = await this.#stored(oci, req.image);
      if (stored) {
        this.#logger.debug(`using ${stored.name} from the store`, { manifest: stored.manifest.digest });
        return stored;
      }
      if (req.policy === "never") {
        throw notFound(`image ${req.image} is not in the store and the pull policy is never; pull it first`);
      }
    }
    const log = this.#logger;
    log.info(`pulling ${req.image}${req.why ? ` (${req.why})` : ""}`, { root: this.root });
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
      const result = await oci.pull(req.image, {
        root: this.root,
        logger: log,
        onEvent,
        ...(platform ? { platform } : {}),
        ...(req.plainHttp !== undefined ? { plainHttp: req.plainHttp } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      log.info(`pulled ${result.name}: ${result.formatDescription}`, {
        manifest: result.manifest.digest,
        module: result.module.digest,
        bytesFetched: result.bytesFetched,
      });
      return result;
    } catch (err) {
      log.warn(`pulling ${req.image} failed: ${(err as Error).message}`);
      throw err;
    }
  }

  /** The last pull of `image` when its module and rootfs are still in the store. */
  async #stored(oci: typeof import("../oci/index.js"), image: string): Promise<PullResult | undefined> {
    const store = await oci.ContentStore.open(this.root);
    const desc = await store.resolve(oci.sourceName(image));
    const record = desc ? await store.pullRecord(desc) : undefined;
    if (!record) return undefined;
    const present =
      (await pathExists(record.module.path)) && (!record.rootfs || (await pathExists(record.rootfs)));
    return present ? record : undefined;
  }
}
