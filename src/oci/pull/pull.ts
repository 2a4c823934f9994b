/**
 * `pull`: fetch an image from a registry, an OCI layout or an archive into the content store, choose the wasm
 * manifest, fetch what it needs (layers in parallel, each verified), and extract the module. The second pull of
 * the same image fetches and extracts nothing: blobs, the extraction record and the module are found in the
 * store. The pull policy decides first whether to go to the source at all: with `missing` or `never` an image
 * the store has is the answer, and its source is not even opened. Steps and their order follow containerd's
 * fetch-then-unpack; the wasm rules are DESIGN 11 and 12.
 */
import { PassThrough } from "node:stream";
import {
  type Digest,
  defaultRoot,
  failedPrecondition,
  notFound,
  pathExists,
  silentLogger,
} from "../../internal/index.js";
import type { FetchedManifest, ImageSource } from "../image/index.js";
import {
  Annotation,
  classifyImage,
  configIsJson,
  configPlatform,
  type Descriptor,
  formatPlatform,
  type ImageConfig,
  MAX_CONFIG_BYTES,
  type Platform,
  parseImageConfig,
  parseManifest,
  platformMatches,
  selectManifest,
} from "../image/index.js";
import type { PullEvent, PullOptions, PullResult } from "../store/index.js";
import { ContentStore, describeHolder, type Lease, removeLeftovers } from "../store/index.js";
import { extractModule, type UnpackedRootfs, unpackRootfs } from "./extract.js";
import { fetchBlob } from "./fetch-blob.js";
import { openSource, sourceName } from "./open-source.js";
import { Tee } from "./tee.js";

/**
 * Pulls `input` into the store at `opts.root`, as `opts.policy` says (pull-types.ts `PullPolicy`): with `missing`
 * or `never`, an image the store has (`storedImage`) is the answer, and nothing is opened, fetched or reported;
 * with `never`, one it has not is NotFound. Otherwise the source is opened and `pullFrom` runs.
 */
export async function pull(input: string, opts: PullOptions = {}): Promise<PullResult> {
  const policy = opts.policy ?? "always";
  // A reference that does not parse fails before the store is touched (InvalidArgument).
  const name = sourceName(input);
  const emit = opts.onEvent;
  const store = await ContentStore.open(opts.root ?? defaultRoot(), {
    ...(emit
      ? {
          onLockWait: (w) =>
            emit({ type: "waiting", what: w.what, holder: describeHolder(w.holder), waitedMs: w.waitedMs }),
        }
      : {}),
    ...(opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {}),
  });
  if (policy !== "always") {
    const stored = await storedImage(store, name);
    if (stored) {
      opts.logger?.debug(`using ${name} from the store`, { manifest: stored.manifest.digest });
      return stored;
    }
    if (policy === "never") {
      throw notFound(`image ${name} is not in the store and the pull policy is never; pull it first`);
    }
  }
  opts.onFetch?.();
  const { source } = await openSource(input, {
    ...(opts.plainHttp !== undefined ? { plainHttp: opts.plainHttp } : {}),
    ...(opts.registryTimeoutMs !== undefined ? { registryTimeoutMs: opts.registryTimeoutMs } : {}),
    logger: opts.logger ?? silentLogger,
  });
  try {
    return await pullFrom(store, source, name, opts);
  } finally {
    await source.close();
  }
}

/**
 * `name` as the store has it: the record of the last pull of the manifest it names, when what that pull
 * extracted is still there (`extractedPresent`), as the result of a pull that fetched nothing. The record is
 * kept per manifest, so it may come from a pull of another name of the same manifest: name, digest and media
 * type are `name`'s own. Undefined when the name, its record, the module or the rootfs is missing.
 */
async function storedImage(store: ContentStore, name: string): Promise<PullResult | undefined> {
  const desc = await store.resolve(name);
  const record = desc ? await store.pullRecord(desc) : undefined;
  if (!desc || !record || !(await extractedPresent(record))) return undefined;
  return { ...record, name, digest: desc.digest, mediaType: desc.mediaType, bytesFetched: 0 };
}

/**
 * Whether the files a pull record names are there: the module and, for an image with tar layers, its rootfs.
 * Their contents are not hashed here: a pull verifies the module before it reuses it (`cachedExtraction`), and
 * the runner verifies the bytes it compiles (`RunSpec.moduleDigest`).
 */
async function extractedPresent(record: Pick<PullResult, "module" | "rootfs">): Promise<boolean> {
  return (await pathExists(record.module.path)) && (!record.rootfs || (await pathExists(record.rootfs)));
}

/**
 * The pull steps over an already opened source; exported for the shim, which owns its store. The pull holds a
 * lease (store-lease.ts) from its start until its name is tagged: what it stores or reuses is protected from a
 * concurrent prune, each digest before its content is written or relied on.
 *
 * `unpacked` is for a caller that unpacked the chosen manifest's rootfs itself, with the pull's unpacker, and
 * renamed it into place (build/build-store.ts): the module's digest that unpacker hashed as it wrote the file
 * is taken as the pull's own unpack would be, instead of reading the module again. It counts only when the
 * pull finds that rootfs in place and does not unpack one itself.
 */
export async function pullFrom(
  store: ContentStore,
  source: ImageSource,
  name: string,
  opts: PullOptions = {},
  unpacked?: UnpackedRootfs,
): Promise<PullResult> {
  // A damaged index.json is said before anything is fetched, not after (the tag at the end would fail).
  await store.index();
  const lease = await store.lease();
  try {
    return await pullLeased(store, source, name, opts, lease, unpacked);
  } finally {
    await lease.release();
  }
}

async function pullLeased(
  store: ContentStore,
  source: ImageSource,
  name: string,
  opts: PullOptions,
  lease: Lease,
  prepared: UnpackedRootfs | undefined,
): Promise<PullResult> {
  const { signal } = opts;
  const emit = opts.onEvent ?? ((_: PullEvent) => {});
  let bytesFetched = 0;
  // What killed pulls left (a temporary rootfs of 65 MB, a stale lock) goes first; a live pull's stays.
  for (const l of await removeLeftovers(store.root)) {
    emit({ type: "repaired", path: l.path, problem: l.why, action: "removed" });
  }
  const keep = async (m: FetchedManifest) => {
    await lease.protect(manifestDigests(m));
    await store.writeBlob(m.bytes);
    return m;
  };
  const fetchJson = async (desc: Descriptor, cap: number): Promise<Buffer> => {
    if (desc.size > cap) {
      throw failedPrecondition(
        `${name}: blob ${desc.digest} is ${desc.size} bytes; refusing more than ${cap}`,
      );
    }
    await lease.protect([desc.digest]);
    await repairBlob(store, desc, emit);
    bytesFetched += await fetchBlob(store, source, desc, { ...(signal ? { signal } : {}) });
    return store.readBlob(desc);
  };

  const top = await keep(await source.resolve(signal));
  emit({ type: "resolved", name, digest: top.digest, mediaType: top.mediaType });
  const topDesc: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
  const parsedTop = parseManifest(top.bytes, top.mediaType, name);

  let manifestDesc: Descriptor;
  let manifestBytes: FetchedManifest;
  let platform: Platform | undefined;
  if (parsedTop.kind === "index") {
    const selected = await selectManifest(parsedTop.index, {
      name,
      ...(opts.platform ? { platform: opts.platform } : {}),
      fetchIndex: async (d) => {
        const m = await keep(await source.fetchManifest(d, signal));
        const p = parseManifest(m.bytes, d.mediaType, `${name}@${d.digest}`);
        if (p.kind !== "index")
          throw failedPrecondition(`${name}@${d.digest}: expected an index, got a manifest`);
        return p.index;
      },
      fetchPlatformFromConfig: async (d) => {
        const m = await keep(await source.fetchManifest(d, signal));
        const p = parseManifest(m.bytes, d.mediaType, `${name}@${d.digest}`);
        if (p.kind !== "manifest" || !configIsJson(p.manifest.config.mediaType)) return undefined;
        return configPlatform(
          parseImageConfig(await fetchJson(p.manifest.config, MAX_CONFIG_BYTES), d.digest),
        );
      },
    });
    manifestDesc = selected.descriptor;
    platform = selected.platform;
    manifestBytes = await keep(await source.fetchManifest(manifestDesc, signal));
  } else {
    manifestDesc = topDesc;
    manifestBytes = top;
  }
  const parsed = parseManifest(manifestBytes.bytes, manifestDesc.mediaType, `${name}@${manifestDesc.digest}`);
  if (parsed.kind !== "manifest") {
    throw failedPrecondition(`${name}@${manifestDesc.digest}: expected a manifest, got an index`);
  }
  const manifest = parsed.manifest;
  const config = configIsJson(manifest.config.mediaType)
    ? parseImageConfig(await fetchJson(manifest.config, MAX_CONFIG_BYTES), `config of ${name}`)
    : undefined;
  platform ??= singleManifestPlatform(name, config, opts.platform);
  const location = classifyImage(manifest, parsed.mediaType, config, name, {
    explicitPlatform: opts.platform !== undefined,
  });
  const layers = location.module.kind === "layer" ? [location.module.layer] : location.tarLayers;
  emit({ type: "selected", platform, format: location.format, manifest: manifestDesc, layers });

  // A pull repairs what it finds damaged: stored layers are verified (a damaged one is fetched again), and so is
  // an extracted module (a damaged one is extracted again).
  await lease.protect([manifestDesc.digest, ...layers.map((l) => l.digest)]);
  for (const layer of layers) await repairBlob(store, layer, emit);
  const cached = await cachedExtraction(store, manifestDesc.digest, emit, lease);
  let module: PullResult["module"];
  let rootfs: string | undefined;
  if (cached) {
    module = cached.module;
    rootfs = cached.rootfs;
    const missing = [];
    for (const layer of layers) if (!(await store.has(layer))) missing.push(layer);
    const fetches = startFetches(store, source, missing, opts, {});
    for (const n of await Promise.all(fetches.values())) bytesFetched += n;
    emit({ type: "extracted", module: module.digest, size: module.size, cached: true });
  } else {
    // The bottom layer unpacks while it downloads (when it is not stored yet); the others download in
    // parallel and are applied in order from the store. Any failure stops the downloads still running.
    const stop = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
    const rootfsDir = location.tarLayers.length ? store.rootfsPath(manifestDesc.digest) : undefined;
    const bottom = location.tarLayers[0];
    const found = rootfsDir !== undefined && (await pathExists(rootfsDir));
    const side =
      rootfsDir && bottom && !found && !(await store.has(bottom))
        ? new PassThrough({ highWaterMark: 1 << 20 })
        : undefined;
    const fetches = startFetches(
      store,
      source,
      layers,
      { ...opts, signal },
      side && bottom ? { [bottom.digest]: new Tee(side) } : {},
    );
    let unpacked: UnpackedRootfs | undefined;
    try {
      unpacked = rootfsDir
        ? await unpackRootfs(store, manifestDesc.digest, location, name, {
            ready: (d) => fetches.get(d)!,
            ...(side ? { streamed: side } : {}),
          })
        : undefined;
      for (const n of await Promise.all(fetches.values())) bytesFetched += n;
    } catch (err) {
      stop.abort(err);
      throw err;
    }
    rootfs = unpacked?.path;
    const hashed = found && !unpacked?.module && prepared?.path === rootfs ? prepared : unpacked;
    const extracted = await extractModule(store, location, name, hashed, lease);
    module = {
      digest: extracted.digest,
      size: extracted.size,
      kind: extracted.kind,
      path: extracted.path,
      source: extracted.source,
    };
    emit({ type: "extracted", module: module.digest, size: module.size, cached: false });
  }

  const result: PullResult = {
    name,
    digest: top.digest,
    mediaType: top.mediaType,
    manifest: manifestDesc,
    platform,
    format: location.format,
    formatDescription: location.description,
    module,
    ...(rootfs ? { rootfs } : {}),
    entrypoint: location.entrypoint,
    env: location.env,
    workingDir: location.workingDir,
    bytesFetched,
  };
  await store.recordExtraction(manifestDesc.digest, result);
  await store.tag(name, { ...topDesc, annotations: { [Annotation.PulledManifest]: manifestDesc.digest } });
  return result;
}

/**
 * What a pull of manifest `m` may store: `m` and, for an image manifest, its config and layers, so that one
 * lease write (a round of the index lock) protects them all before the first is written. An index, or bytes
 * that do not parse (refused later, with the reason), give `m` alone.
 */
function manifestDigests(m: FetchedManifest): Digest[] {
  try {
    const parsed = parseManifest(m.bytes, m.mediaType, m.digest);
    if (parsed.kind === "manifest") {
      const { config, layers } = parsed.manifest;
      return [m.digest, config.digest, ...layers.map((l) => l.digest)];
    }
  } catch {
    // the caller parses the same bytes and says what is wrong with them
  }
  return [m.digest];
}

/**
 * The platform of a single manifest (no index): its config's, else the one asked for, else wasip1/wasm (an
 * artifact config carries none). Whether a non-wasm platform is acceptable is classifyImage's rule (compat
 * annotation, or asked for explicitly). `--platform` must agree with what the config says.
 */
function singleManifestPlatform(
  name: string,
  config: ImageConfig | undefined,
  wanted: Platform | undefined,
): Platform {
  const declared = config ? configPlatform(config) : undefined;
  if (wanted && declared && !platformMatches(wanted, declared)) {
    throw failedPrecondition(
      `${name} is a single-platform image for ${formatPlatform(declared)}, not ${formatPlatform(wanted)}`,
    );
  }
  return declared ?? wanted ?? { os: "wasip1", architecture: "wasm" };
}

/**
 * The module of an earlier pull of this manifest, when the record, the module file and the rootfs are there and
 * the module still hashes to its digest. A module that does not is removed with what shares its inode (the
 * rootfs it was linked from, whose other files may be damaged too: it is unpacked again from the verified
 * layers), so the caller extracts it again.
 */
async function cachedExtraction(
  store: ContentStore,
  manifest: Digest,
  emit: (e: PullEvent) => void,
  lease: Lease,
): Promise<{ module: PullResult["module"]; rootfs?: string } | undefined> {
  const record = (await store.extraction(manifest)) as PullResult | undefined;
  if (!record?.module?.digest) return undefined;
  await lease.protect([record.module.digest]);
  const verdict = await store.verifyModule(record.module.digest, record.module.size);
  if (!verdict.ok) {
    const path = store.modulePath(record.module.digest);
    if (!verdict.missing) {
      const action = record.rootfs
        ? "removed with the rootfs it came from; unpacking it again"
        : "removed; extracting it again";
      emit({ type: "repaired", path, problem: verdict.problem, action });
    }
    await store.discard(path);
    if (record.rootfs) await store.discard(store.rootfsPath(manifest));
    return undefined;
  }
  if (!(await extractedPresent(record))) return undefined;
  return { module: record.module, ...(record.rootfs ? { rootfs: record.rootfs } : {}) };
}

/**
 * Verifies the stored copy of `desc`, if any. A copy whose bytes no longer match (or that is no regular file) is
 * removed and reported, so the fetch that follows gets it again.
 */
async function repairBlob(
  store: ContentStore,
  desc: Descriptor,
  emit: (e: PullEvent) => void,
): Promise<void> {
  const verdict = await store.verifyBlob(desc);
  if (verdict.ok || verdict.missing) return;
  const path = store.blobPath(desc.digest);
  await store.discard(path);
  emit({ type: "repaired", path, problem: verdict.problem, action: "removed; fetching it again" });
}

/**
 * Starts fetching `layers`, at most `opts.concurrency` (default 4) at a time, and returns each layer's
 * promise of bytes fetched. The promises are marked handled: a caller awaits the ones it needs, in its order.
 */
function startFetches(
  store: ContentStore,
  source: ImageSource,
  layers: Descriptor[],
  opts: PullOptions,
  tees: Record<string, Tee>,
): Map<Digest, Promise<number>> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= Math.max(1, opts.concurrency ?? 4)) await new Promise<void>((r) => waiting.push(r));
    running++;
  };
  const fetches = new Map<Digest, Promise<number>>();
  for (const layer of layers) {
    if (fetches.has(layer.digest)) continue;
    const tee = tees[layer.digest];
    const p = slot().then(() =>
      fetchBlob(store, source, layer, {
        ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(tee ? { tee } : {}),
      }).finally(() => {
        running--;
        waiting.shift()?.();
      }),
    );
    p.catch(() => {});
    fetches.set(layer.digest, p);
  }
  return fetches;
}
