/**
 * What `nodewasi push`, `copy` and `tag` do, from the names a user types: `pushImage` sends an image of the
 * content store (or an `oci:` / `oci-archive:` layout) to a registry; `copyByName` copies between any two of
 * a registry, `oci:DIR[:TAG]` and `oci-archive:FILE[:TAG]` (what `skopeo copy --all` does for wasm images);
 * `tagStoredImage` gives a stored image another name. All three keep manifests byte for byte, so digests
 * stay.
 */
import { resolve as resolvePath } from "node:path";
import {
  Code,
  defaultRoot,
  invalidArgument,
  notFound,
  ShimError,
  silentLogger,
} from "../../internal/index.js";
import type { ImageSource } from "../image/index.js";
import { Annotation, type Descriptor, type ImageSourceSpec, parseSourceSpec } from "../image/index.js";
import { layoutSource, type OpenSourceOptions, openSource, sourceName } from "../pull/index.js";
import { RegistryClient } from "../registry/index.js";
import { ContentStore } from "../store/index.js";
import { archiveDestination, layoutDestination, storeDestination } from "./copy-layout.js";
import { registryDestination } from "./copy-registry.js";
import { copyToDestination } from "./copy-to-destination.js";
import type { CopyOptions, CopyResult, ImageDestination } from "./copy-types.js";

/** `copy`'s options plus where the content store is. */
export interface PushOptions extends CopyOptions {
  /** The content store root; default `defaultRoot()`. */
  root?: string;
}

/**
 * Pushes the stored image named `src` (a reference as `nodewasi images` lists it, or an `oci:` /
 * `oci-archive:` source that is not in the store) to the registry reference `dst` (default: `src` itself).
 * Blobs the repository has are skipped, blobs another repository of the same registry had when pulled are
 * mounted, the rest uploaded; an index goes with every manifest it names.
 */
export async function pushImage(src: string, dst: string = src, opts: PushOptions = {}): Promise<CopyResult> {
  const target = parseSourceSpec(dst);
  if (target.kind !== "registry") throw invalidPushTarget(dst);
  const store = await ContentStore.open(opts.root ?? defaultRoot());
  const source = await storeOrLayoutSource(store, src, opts);
  const srcSpec = parseSourceSpec(src);
  const mountFrom = opts.mountFrom ?? (srcSpec.kind === "registry" ? srcSpec.ref : undefined);
  const dest = registryDestination(client(opts), target.ref, {
    ...opts,
    ...(mountFrom ? { mountFrom } : {}),
  });
  try {
    return await copyToDestination(source, dest, opts);
  } finally {
    await source.close();
  }
}

/** The error for a push whose destination is not a registry reference. */
export function invalidPushTarget(dst: string): ShimError {
  return invalidArgument(
    `push sends images to a registry, and ${JSON.stringify(dst)} is not a registry reference; ` +
      "give one as DST (nodewasi push SRC REGISTRY/REPO:TAG), or use nodewasi copy to write a layout",
  );
}

/**
 * Copies `src` to `dst`, each a registry reference (`docker://` optional), `oci:DIR[:TAG]` or
 * `oci-archive:FILE[:TAG]`. A destination layout without a tag gets the source's tag, else `latest`.
 */
export async function copyByName(src: string, dst: string, opts: CopyOptions = {}): Promise<CopyResult> {
  const srcSpec = parseSourceSpec(src);
  const dstSpec = parseSourceSpec(dst);
  const { source } = await openSource(src, {
    ...sourceOptions(opts),
  });
  try {
    const mountFrom = opts.mountFrom ?? (srcSpec.kind === "registry" ? srcSpec.ref : undefined);
    const dest = await openDestination(dstSpec, tagOf(srcSpec), {
      ...opts,
      ...(mountFrom ? { mountFrom } : {}),
    });
    return await copyToDestination(source, dest, opts);
  } finally {
    await source.close();
  }
}

/**
 * Names the stored image `src` also `dst` (both references or `oci:` names as the store keeps them), as
 * `docker tag` does: same manifest, same digest, nothing copied. The new name shares the old one's pull
 * record, so `nodewasi run DST` needs no pull.
 */
export async function tagStoredImage(
  src: string,
  dst: string,
  opts: { root?: string } = {},
): Promise<{ name: string; descriptor: Descriptor }> {
  const store = await ContentStore.open(opts.root ?? defaultRoot());
  const from = sourceName(src);
  const to = sourceName(dst);
  const desc = await store.resolve(from);
  if (!desc) throw notInStore(from);
  const { [Annotation.ImageName]: _n, [Annotation.RefName]: _r, ...kept } = desc.annotations ?? {};
  const descriptor: Descriptor = { ...desc, annotations: kept };
  await store.tag(to, descriptor);
  return { name: to, descriptor };
}

/** The destination a spec names. `tag` is the fallback tag for layouts and archives. */
export async function openDestination(
  spec: ImageSourceSpec,
  tag: string | undefined,
  opts: CopyOptions & { store?: ContentStore } = {},
): Promise<ImageDestination> {
  switch (spec.kind) {
    case "registry":
      return registryDestination(client(opts), spec.ref, opts);
    case "oci":
      return layoutDestination(resolvePath(spec.path), spec.tag ?? tag ?? "latest");
    case "oci-archive":
      return archiveDestination(resolvePath(spec.path), spec.tag ?? tag ?? "latest");
  }
}

/** Copies `src` into the content store under `name` (blobs and manifests only; nothing is extracted). */
export async function copyToStore(
  src: ImageSource,
  store: ContentStore,
  name: string,
  opts: CopyOptions = {},
) {
  return copyToDestination(src, storeDestination(store, name), opts);
}

function client(opts: CopyOptions): RegistryClient {
  return new RegistryClient({
    plainHttp: opts.plainHttp ?? false,
    ...(opts.registryTimeoutMs !== undefined ? { timeoutMs: opts.registryTimeoutMs } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
}

/** What `openSource` takes from a copy's options. */
function sourceOptions(opts: CopyOptions): OpenSourceOptions {
  return {
    ...(opts.plainHttp !== undefined ? { plainHttp: opts.plainHttp } : {}),
    ...(opts.registryTimeoutMs !== undefined ? { registryTimeoutMs: opts.registryTimeoutMs } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    logger: opts.logger ?? silentLogger,
  };
}

function tagOf(spec: ImageSourceSpec): string | undefined {
  return spec.kind === "registry" ? spec.ref.tag : spec.tag;
}

/**
 * The store's image named `input`, under that name. A pull keeps only the manifest of the platform it chose,
 * so content missing from the store (the other platforms of an index) is read from where the name says the
 * image came from (its registry or layout), verified like any source. An `oci:` or `oci-archive:` source that
 * the store does not hold is opened as a layout; a registry reference must be in the store.
 */
async function storeOrLayoutSource(
  store: ContentStore,
  input: string,
  opts: CopyOptions,
): Promise<ImageSource> {
  const name = sourceName(input);
  const open = () =>
    openSource(input, {
      ...sourceOptions(opts),
    }).then((o) => o.source);
  if (!(await store.resolve(name))) {
    if (parseSourceSpec(input).kind !== "registry") return open();
    throw notInStore(name);
  }
  const stored = await layoutSource(store.root, name);
  let origin: Promise<ImageSource> | undefined;
  const orOrigin = async <T>(read: (s: ImageSource) => Promise<T>): Promise<T> => {
    try {
      return await read(stored);
    } catch (err) {
      if (!(err instanceof ShimError) || err.code !== Code.NotFound) throw err;
      origin ??= open();
      opts.logger?.debug("content not in the store; reading it from the image's origin", { name });
      return read(await origin).catch((again: unknown) => {
        throw partialImageHint(err, name, again);
      });
    }
  };
  return {
    name,
    resolve: (signal) => stored.resolve(signal),
    fetchManifest: (d, signal) => orOrigin((s) => s.fetchManifest(d, signal)),
    openBlob: (d, offset, signal) => orOrigin((s) => s.openBlob(d, offset, signal)),
    async close() {
      await stored.close();
      await (await origin?.catch(() => undefined))?.close();
    },
  };
}

function notInStore(name: string): ShimError {
  return notFound(
    `no image named ${name} in the local store (nodewasi images lists them); pull or build it first, ` +
      "or copy it from its source with nodewasi copy SRC DST",
  );
}

/** Content neither the store nor the image's origin has: say why the store may lack it. */
function partialImageHint(err: ShimError, name: string, again: unknown): ShimError {
  const why = ShimError.from(again).rawMessage;
  return notFound(
    `${err.rawMessage}, and its origin ${name} could not give it (${why}); a pull keeps only the platform it ` +
      "chose of an index: copy the whole image from where it was published with nodewasi copy SRC DST",
    { cause: again },
  );
}
