/**
 * Puts a built image (or index) into the content store exactly as if it had been pulled: every blob is
 * stored, then the ordinary pull (`pullFrom`) runs over an in-memory source of the image, so the chosen
 * manifest, the unpacked rootfs, the extracted module, the pull record and the tag are all made by the code
 * that makes them for a registry image. `nodewasi images`, `inspect`, `run` and `push` then see no difference
 * between a built image and a pulled one. `buildIntoStore` builds a module straight into the store, its
 * rootfs unpacked while the layer is gzipped, for the pull to find.
 */

import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pullFrom, rootfsKey } from "../pull/index.js";
import { type ContentStore, type PullOptions, type PullResult, tempPath } from "../store/index.js";
import { type FileDigest, UNKNOWN, unpackLayer, unpackLimitsFrom } from "../unpack/index.js";
import { type BuildImageOptions, type BuiltImage, buildImageAsync, entrypointOf } from "./build.js";
import { builtImageSource } from "./built-source.js";

type StoreOptions = Omit<PullOptions, "root" | "plainHttp" | "concurrency">;

/**
 * Stores every blob of `image` (an index keeps all its entries, not only the wasm one, so it can be pushed
 * whole), then pulls it from memory under `name` (a canonical name, see `sourceName`). `opts.platform` picks
 * the entry of an index, or accepts a single non-wasm-platform image, as `pull --platform` does.
 */
export async function storeImage(
  store: ContentStore,
  image: BuiltImage,
  name: string,
  opts: StoreOptions = {},
): Promise<PullResult> {
  for (const data of image.blobs.values()) await store.writeBlob(data);
  return pullFrom(store, builtImageSource(image, name), name, opts);
}

/**
 * Builds `build` (buildImageAsync) and stores it under `name` through the ordinary pull (its own platform chosen),
 * as `nodewasi build` without `--output` does. A gzip tar layer's rootfs is unpacked from its tar while the tar
 * is gzipped, by the pull's unpacker and limits, into a temporary folder of the store renamed into the
 * manifest's rootfs once the digest is known, the module hashed as it is written; the pull then finds that
 * rootfs complete, as it finds one another pull finished first, and takes the module's digest from that unpack
 * (`pullFrom`'s `unpacked`): neither the layer is decompressed (twice: the unpacker's look-ahead scan has its own
 * copy) nor the module read again. Should the early unpack fail, its folder goes and the pull unpacks as always,
 * so a refusal reads exactly as a pull's. A single image's blobs are all fetched by the pull, from memory, so
 * none is written beforehand (storeImage's), and none is read back to be verified.
 */
export async function buildIntoStore(
  store: ContentStore,
  build: BuildImageOptions,
  name: string,
  opts: Omit<StoreOptions, "platform"> = {},
): Promise<{ image: BuiltImage; pulled: PullResult }> {
  const tmp = tempPath(join(store.root, "rootfs", "built"));
  const key = rootfsKey(entrypointOf(build));
  const digests = new Map<string, FileDigest>(key ? [[key, UNKNOWN]] : []);
  let unpacked = false;
  try {
    // Extra layers would belong to the rootfs too: such an image is unpacked by the pull alone.
    const early = build.extraLayers?.length
      ? undefined
      : async (tar: Readable) => {
          await mkdir(tmp, { mode: 0o755 });
          await unpackLayer(tar, "none", tmp, {
            name: `the layer of ${name}`,
            limits: unpackLimitsFrom(process.env),
            digests,
          });
          unpacked = true;
        };
    const image = await buildImageAsync(build, early);
    const rootfs = store.rootfsPath(image.manifest.digest);
    const module = key ? digests.get(key) : undefined;
    const mine =
      unpacked && (await adoptRootfs(tmp, rootfs))
        ? { path: rootfs, ...(module && module !== UNKNOWN ? { module } : {}) }
        : undefined;
    const source = builtImageSource(image, name);
    const pulled = await pullFrom(store, source, name, { ...opts, platform: image.manifest.platform! }, mine);
    return { image, pulled };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Renames the unpacked `tmp` to `rootfs`, unless a rootfs is there already (complete, as every one in place);
 * whether it did.
 */
async function adoptRootfs(tmp: string, rootfs: string): Promise<boolean> {
  await mkdir(dirname(rootfs), { recursive: true });
  return rename(tmp, rootfs).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
      return false;
    },
  );
}
