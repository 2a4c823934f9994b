/**
 * Garbage collection of the content store: mark from the names in index.json through indexes and manifests to
 * configs and layers, plus what the extraction records of reachable manifests name (their module and rootfs);
 * sweep the rest. Like containerd's GC it works from roots, but without leases: content of a pull that has not
 * yet tagged its image is not protected, except blobs still being downloaded (their ingest lock is live), so run
 * prune when no pull is in flight (the CLI's `nodewasi prune` is a deliberate user action).
 */
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Digest, digestHex, isDigest, isProcessAlive } from "../internal/index.js";
import { isStale, readHolder } from "./lock.js";
import { MAX_MANIFEST_BYTES, parseManifest } from "./manifest.js";
import { isIndexType, isManifestType } from "./media-types.js";
import type { ContentStore } from "./store.js";
import type { Descriptor } from "./types.js";

/** What `prune` removed. */
export interface PruneResult {
  /** Items removed: blobs, modules, rootfs folders, records and partial downloads. */
  removed: number;
  /** Bytes those items held on disk. */
  bytes: number;
}

/** Marks and sweeps `store` (the caller holds the index lock). */
export async function pruneStore(store: ContentStore): Promise<PruneResult> {
  const keep = await mark(store);
  const result: PruneResult = { removed: 0, bytes: 0 };
  const sweep = async (dir: string, keepName: (name: string) => boolean) => {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (keepName(name) || inFlight(name)) continue;
      const path = join(dir, name);
      result.bytes += await diskBytes(path);
      await rm(path, { recursive: true, force: true });
      result.removed++;
    }
  };
  const root = store.root;
  await sweep(join(root, "ingest"), (hex) => keep.liveIngests.has(hex));
  await sweep(join(root, "blobs", "sha256"), (hex) => keep.blobs.has(hex) || keep.liveIngests.has(hex));
  await sweep(join(root, "modules", "sha256"), (hex) => keep.modules.has(hex));
  await sweep(join(root, "rootfs"), (hex) => keep.manifests.has(hex));
  await sweep(join(root, "extracted"), (file) => keep.manifests.has(file.replace(/\.json$/, "")));
  return result;
}

/** Temp files and folders (`NAME.tmp-<pid>-...`) of a process that is still running are in flight. */
function inFlight(name: string): boolean {
  const m = /\.tmp-(\d+)-/.exec(name);
  return m !== null && isProcessAlive(Number(m[1]));
}

interface Marked {
  blobs: Set<string>;
  modules: Set<string>;
  /** Hex of every reachable digest: their rootfs folders and records are kept. */
  manifests: Set<string>;
  /** Ingest folders whose lock a running process holds: a download in flight. */
  liveIngests: Set<string>;
}

async function mark(store: ContentStore): Promise<Marked> {
  const keep: Marked = { blobs: new Set(), modules: new Set(), manifests: new Set(), liveIngests: new Set() };
  for (const hex of await readdir(join(store.root, "ingest")).catch(() => [] as string[])) {
    const holder = await readHolder(join(store.root, "ingest", hex, "lock"));
    if (holder !== undefined && !isStale(holder)) keep.liveIngests.add(hex);
  }
  const visit = async (desc: Descriptor, depth: number): Promise<void> => {
    const hex = digestHex(desc.digest);
    if (keep.blobs.has(hex) || depth > 8) return;
    keep.blobs.add(hex);
    keep.manifests.add(hex);
    await markRecord(store, desc.digest, keep);
    const isRoot = depth === 0;
    if (!isRoot && !isIndexType(desc.mediaType) && !isManifestType(desc.mediaType)) return;
    if (desc.size > MAX_MANIFEST_BYTES) return;
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(await store.readBlob(desc), desc.mediaType, desc.digest);
    } catch {
      return; // Missing or not a manifest: nothing below it to keep.
    }
    if (parsed.kind === "index") {
      for (const child of parsed.index.manifests) await visit(child, depth + 1);
    } else {
      for (const d of [parsed.manifest.config, ...parsed.manifest.layers])
        keep.blobs.add(digestHex(d.digest));
    }
  };
  for (const entry of (await store.index()).manifests) await visit(entry, 0);
  return keep;
}

/** Keeps the module an extraction record names (`module.digest`, as pull.ts writes `PullResult`). */
async function markRecord(store: ContentStore, digest: Digest, keep: Marked): Promise<void> {
  const record = (await store.extraction(digest)) as { module?: { digest?: unknown } } | undefined;
  const module = record?.module?.digest;
  if (typeof module === "string" && isDigest(module)) keep.modules.add(digestHex(module));
}

/** Bytes under `path`, never following symlinks (a rootfs may hold links that loop or point anywhere). */
async function diskBytes(path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[]))
    total += await diskBytes(join(path, name));
  return total;
}
