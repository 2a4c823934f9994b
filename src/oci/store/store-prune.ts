/**
 * Garbage collection of the content store: mark from the names in index.json through indexes and manifests to
 * configs and layers, plus what the extraction records of reachable manifests name (their module and rootfs);
 * sweep the rest. Like containerd's GC it works from roots and leases: what a pull in flight protects with its
 * lease (store-lease.ts) is kept, and so are blobs still being downloaded (their ingest lock is live) and
 * temporaries of live processes (store-leftovers.ts).
 */
import { readdir, realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Digest, digestHex, isDigest, overlayLowerDirs } from "../../internal/index.js";
import { isStale, readHolder } from "./lock.js";
import type { ContentStore } from "./store.js";
import { imageGraph } from "./store-graph.js";
import { leasedDigests } from "./store-lease.js";
import { diskBytes, inFlight, removeLeftovers } from "./store-leftovers.js";

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
      if (keepName(name) || (await inFlight(dir, name))) continue;
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
  // A rootfs that a task's overlay has as its lower layer (src/shim/task-rootfs.ts) stays until that task goes:
  // its guest reads the image's files from it.
  const lowers = new Set<string>();
  for (const d of overlayLowerDirs()) lowers.add(await realpath(d).catch(() => d));
  const rootfs = await realpath(join(root, "rootfs")).catch(() => join(root, "rootfs"));
  await sweep(join(root, "rootfs"), (hex) => keep.manifests.has(hex) || lowers.has(join(rootfs, hex)));
  await sweep(join(root, "extracted"), (file) => keep.manifests.has(file.replace(/\.json$/, "")));
  // Temporaries and lock asides of dead processes at the top (index.json.tmp-...), and stale lock files.
  for (const l of await removeLeftovers(root)) {
    result.bytes += l.bytes;
    result.removed++;
  }
  return result;
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
  // What pulls in flight are storing or reusing (their names are not tagged yet).
  for (const hex of await leasedDigests(store.root)) {
    keep.blobs.add(hex);
    keep.manifests.add(hex);
    keep.modules.add(hex);
    await markRecord(store, `sha256:${hex}`, keep);
  }
  const seen = new Set<string>();
  for (const entry of (await store.index()).manifests) {
    const graph = await imageGraph(store, entry, seen);
    for (const d of graph.manifests) {
      keep.blobs.add(digestHex(d.digest));
      keep.manifests.add(digestHex(d.digest));
      await markRecord(store, d.digest, keep);
    }
    for (const d of graph.blobs) keep.blobs.add(digestHex(d.digest));
  }
  return keep;
}

/** Keeps the module an extraction record names (`module.digest`, as pull.ts writes `PullResult`). */
async function markRecord(store: ContentStore, digest: Digest, keep: Marked): Promise<void> {
  const record = (await store.extraction(digest)) as { module?: { digest?: unknown } } | undefined;
  const module = record?.module?.digest;
  if (typeof module === "string" && isDigest(module)) keep.modules.add(digestHex(module));
}
