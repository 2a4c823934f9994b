/**
 * `nodewasi.v1.Images`: the content store over RPC, so `nodewasi run` and remote clients pull through the
 * shim that will run the image. Pull streams the pull's progress events, then its result.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  Images,
  PlatformSchema,
  PullProgressSchema,
  PullResultSchema,
  ServiceImpl,
} from "../gen/index.js";
import { notFound } from "../internal/index.js";
import type { ContentStore, Descriptor, Platform, PullEvent, PullResult } from "../oci/index.js";

/** oci/ (undici, tar, zstd) is loaded at the first call that needs it, not with the shim's other modules. */
const loadOci = () => import("../oci/index.js");

type Impl = ServiceImpl<typeof Images>;

const platformMsg = (p: Platform): MessageInitShape<typeof PlatformSchema> => ({
  os: p.os,
  architecture: p.architecture,
  variant: p.variant ?? "",
  osVersion: p["os.version"] ?? "",
  osFeatures: p["os.features"] ?? [],
});

const descriptorMsg = (d: Descriptor) => ({
  mediaType: d.mediaType,
  digest: d.digest,
  size: BigInt(d.size),
  annotations: d.annotations ?? {},
  ...(d.platform ? { platform: platformMsg(d.platform) } : {}),
  artifactType: d.artifactType ?? "",
});

/** A pull result as its message. */
export function pullResultMsg(r: PullResult): MessageInitShape<typeof PullResultSchema> {
  return {
    name: r.name,
    digest: r.digest,
    mediaType: r.mediaType,
    manifest: descriptorMsg(r.manifest),
    platform: platformMsg(r.platform),
    format: r.format,
    formatDescription: r.formatDescription,
    module: { ...r.module, size: BigInt(r.module.size) },
    rootfs: r.rootfs ?? "",
    entrypoint: r.entrypoint,
    env: r.env,
    workingDir: r.workingDir,
    bytesFetched: BigInt(r.bytesFetched),
  };
}

/** A pull event as its progress message. */
export function progressMsg(e: PullEvent): MessageInitShape<typeof PullProgressSchema> {
  switch (e.type) {
    case "resolved":
      return { event: { case: "resolved", value: e } };
    case "selected":
      return {
        event: {
          case: "selected",
          value: {
            platform: platformMsg(e.platform),
            format: e.format,
            manifest: descriptorMsg(e.manifest),
            layers: e.layers.map(descriptorMsg),
          },
        },
      };
    case "blob-start":
      return {
        event: {
          case: "blobStart",
          value: { ...e, size: BigInt(e.size), offset: BigInt(e.offset) },
        },
      };
    case "blob-progress":
      return { event: { case: "blobProgress", value: { ...e, size: BigInt(e.size), done: BigInt(e.done) } } };
    case "blob-done":
      return { event: { case: "blobDone", value: { ...e, size: BigInt(e.size) } } };
    case "blob-retry":
      return {
        event: {
          case: "blobRetry",
          value: { ...e, offset: BigInt(e.offset), delayMs: Math.round(e.delayMs) },
        },
      };
    case "extracted":
      return { event: { case: "extracted", value: { ...e, size: BigInt(e.size) } } };
    case "waiting":
      return {
        event: {
          case: "waiting",
          value: { what: e.what, holder: e.holder, waitedMs: BigInt(Math.round(e.waitedMs)) },
        },
      };
    case "repaired":
      return { event: { case: "repaired", value: { path: e.path, problem: e.problem, action: e.action } } };
  }
}

export class ImagesService implements Impl {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  pull: Impl["pull"] = async function* (this: ImagesService, req, ctx) {
    const queue: MessageInitShape<typeof PullProgressSchema>[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: unknown;
    const oci = await loadOci();
    const pulling = oci
      .pull(req.reference, {
        root: this.#root,
        ...(req.platform ? { platform: oci.parsePlatform(req.platform) } : {}),
        plainHttp: req.plainHttp,
        ...(req.concurrency ? { concurrency: req.concurrency } : {}),
        ...(req.registryTimeoutMs !== undefined ? { registryTimeoutMs: req.registryTimeoutMs } : {}),
        signal: ctx.signal,
        // Progress is sampled: a byte counter per chunk would flood the stream; start, done and every 1% pass.
        onEvent: (e) => {
          if (
            e.type === "blob-progress" &&
            e.done !== e.size &&
            Math.floor((e.done * 100) / e.size) === Math.floor(((e.done - 1) * 100) / e.size)
          )
            return;
          queue.push(progressMsg(e));
          wake?.();
        },
      })
      .then(
        (r) => {
          queue.push({ event: { case: "result", value: pullResultMsg(r) } });
        },
        (err: unknown) => {
          failure = err;
        },
      )
      .finally(() => {
        done = true;
        wake?.();
      });
    while (!done || queue.length) {
      if (!queue.length) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      while (queue.length) yield queue.shift()!;
    }
    await pulling;
    if (failure) throw failure;
  };

  list: Impl["list"] = async () => {
    const store = await (await loadOci()).ContentStore.open(this.#root);
    const images = await Promise.all(
      (await store.images()).map((i) => this.#image(store, i.name, i.descriptor)),
    );
    return { images };
  };

  get: Impl["get"] = async (req) => {
    const store = await (await loadOci()).ContentStore.open(this.#root);
    return { image: await this.#find(store, req.name) };
  };

  remove: Impl["remove"] = async (req) => {
    const store = await (await loadOci()).ContentStore.open(this.#root);
    const image = await this.#find(store, req.name);
    await store.untag(image.name);
    return { image };
  };

  async #find(store: ContentStore, input: string) {
    const name = (await loadOci()).sourceName(input);
    const desc = await store.resolve(name);
    if (!desc) throw notFound(`image ${input} is not in the store; pull it first`);
    return this.#image(store, name, desc);
  }

  async #image(store: ContentStore, name: string, desc: Descriptor) {
    const pulled = await store.pullRecord(desc);
    return { name, descriptor: descriptorMsg(desc), ...(pulled ? { pulled: pullResultMsg(pulled) } : {}) };
  }
}
