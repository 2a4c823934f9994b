/**
 * `nodewasi.v1.Images`: the content store over RPC, so `nodewasi run` and remote clients pull through the
 * shim that will run the image. Pull streams the pull's progress events, then its result (only the result for
 * an image its policy answers from the store); the messages are pull-codec.ts's.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Images, PullProgressSchema, ServiceImpl } from "../gen/index.js";
import { notFound } from "../internal/index.js";
import type { ContentStore, Descriptor } from "../oci/index.js";
import { descriptorMsg, progressMsg, pullPolicyOf, pullResultMsg } from "./pull-codec.js";

/** oci/ (undici, tar, zstd) is loaded at the first call that needs it, not with the shim's other modules. */
const loadOci = () => import("../oci/index.js");

type Impl = ServiceImpl<typeof Images>;

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
        policy: pullPolicyOf(req.policy, "always"),
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
