/**
 * How a task created from an image reference (`CreateOptions.image`, the `nodewasi run` path) gets its module:
 * from the store when the pull policy allows and the image is there, else by pulling it. The Task service is
 * handed an `ImageResolver`, so tests can give it a fake.
 */
import { access } from "node:fs/promises";
import { type Logger, notFound, silentLogger } from "../internal/index.js";
import {
  ContentStore,
  type Platform,
  type PullEvent,
  type PullResult,
  parsePlatform,
  pull,
  sourceName,
} from "../oci/index.js";

export type PullPolicy = "missing" | "always" | "never";

export interface ResolveRequest {
  image: string;
  platform?: string;
  plainHttp?: boolean;
  policy: PullPolicy;
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
    const platform: Platform | undefined = req.platform ? parsePlatform(req.platform) : undefined;
    if (req.policy !== "always") {
      const stored = await this.#stored(req.image);
      if (stored) return stored;
      if (req.policy === "never") {
        throw notFound(`image ${req.image} is not in the store and the pull policy is never; pull it first`);
      }
    }
    this.#logger.debug("pulling", { image: req.image });
    return pull(req.image, {
      root: this.root,
      logger: this.#logger,
      ...(platform ? { platform } : {}),
      ...(req.plainHttp !== undefined ? { plainHttp: req.plainHttp } : {}),
      ...(req.onEvent ? { onEvent: req.onEvent } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    });
  }

  /** The last pull of `image` when its module and rootfs are still in the store. */
  async #stored(image: string): Promise<PullResult | undefined> {
    const store = await ContentStore.open(this.root);
    const desc = await store.resolve(sourceName(image));
    const record = desc ? await store.pullRecord(desc) : undefined;
    if (!record) return undefined;
    const present = (await exists(record.module.path)) && (!record.rootfs || (await exists(record.rootfs)));
    return present ? record : undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
