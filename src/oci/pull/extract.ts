/**
 * Gets the module out of a pulled image (DESIGN decision 12) and keeps it in the store by its own digest:
 * a raw wasm layer is the module; tar layers are unpacked, in order, into the manifest's rootfs and the module
 * is the file the image names. Either way the bytes must start with `\0asm`, and a component is refused.
 */
import { mkdir, realpath, rename, rm } from "node:fs/promises";
import { dirname, join, posix, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import {
  type Digest,
  failedPrecondition,
  invalidArgument,
  notFound,
  pathExists,
  readWasmFileHeader,
  type WasmKind,
} from "../../internal/index.js";
import type { ModuleLocation } from "../image/index.js";
import { tarLayerCompression } from "../image/index.js";
import { type ContentStore, type Lease, readFileStream } from "../store/index.js";
import {
  type FileDigest,
  UNKNOWN,
  type UnpackLimits,
  unpackLayer,
  unpackLimitsFrom,
} from "../unpack/index.js";

export interface ExtractedModule {
  digest: Digest;
  size: number;
  kind: WasmKind;
  path: string;
  source: string;
}

export interface RootfsLayers {
  /** Settles when the layer is in the store (its download promise). */
  ready(digest: Digest): Promise<unknown>;
  /**
   * The bottom layer's bytes as they download (tee.ts). They end only once the blob is verified; if this
   * stream fails for any reason, the layer is unpacked again from the stored blob.
   */
  streamed?: Readable;
  /** Limits for the whole rootfs; by default DEFAULT_UNPACK_LIMITS with the environment's settings over them. */
  limits?: Partial<UnpackLimits>;
}

/** Layers an image may have: Docker and containerd stop at 127 (overlay's lower-dir limit). */
export const MAX_LAYERS = 128;

export interface UnpackedRootfs {
  path: string;
  /** The module's digest, hashed as it was unpacked (absent when the rootfs was already there). */
  module?: FileDigest;
}

/**
 * Unpacks `loc.tarLayers` into the manifest's rootfs, atomically: a temporary folder renamed into place, so
 * a rootfs that exists is complete (also one another process finished first).
 */
export async function unpackRootfs(
  store: ContentStore,
  manifest: Digest,
  loc: ModuleLocation,
  name: string,
  layers: RootfsLayers,
): Promise<UnpackedRootfs> {
  const rootfs = store.rootfsPath(manifest);
  if (await pathExists(rootfs)) {
    layers.streamed?.destroy();
    return { path: rootfs };
  }
  if (loc.tarLayers.length > MAX_LAYERS) {
    throw failedPrecondition(
      `${name} has ${loc.tarLayers.length} layers; more than ${MAX_LAYERS} are refused`,
    );
  }
  const key = loc.module.kind === "rootfs" ? rootfsKey(loc.module.path) : undefined;
  const digests = new Map<string, FileDigest>(key ? [[key, UNKNOWN]] : []);
  const limits = { ...unpackLimitsFrom(process.env), ...layers.limits };
  const tmp = `${rootfs}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true, mode: 0o755 });
  // The entry and byte limits hold for the whole rootfs, not per layer: many small layers that each stay
  // under them must not add up to an unbounded unpack (DESIGN decision 13).
  let spent = { entries: 0, bytes: 0 };
  const spend = (r: { entries: number; bytes: number }) => {
    spent = { entries: spent.entries + r.entries, bytes: spent.bytes + r.bytes };
  };
  try {
    for (const [i, layer] of loc.tarLayers.entries()) {
      const compression = tarLayerCompression(layer.mediaType) ?? "none";
      const opts = () => ({ name: `layer ${layer.digest} of ${name}`, digests, limits, spent });
      if (i === 0 && layers.streamed) {
        const streamed = await Promise.all([
          unpackLayer(layers.streamed, compression, tmp, opts()),
          layers.ready(layer.digest),
        ]).then(
          ([r]) => {
            spend(r);
            return true;
          },
          () => false,
        );
        if (streamed) continue;
        await rm(tmp, { recursive: true, force: true });
        await mkdir(tmp, { mode: 0o755 });
        if (key) digests.set(key, UNKNOWN);
      }
      await layers.ready(layer.digest);
      spend(await unpackLayer(readFileStream(store.blobPath(layer.digest)), compression, tmp, opts()));
    }
    await mkdir(dirname(rootfs), { recursive: true });
    const mine = await rename(tmp, rootfs).then(
      () => true,
      async (err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
        await rm(tmp, { recursive: true, force: true }); // another pull finished first; its rootfs is complete
        return false;
      },
    );
    const module = key ? digests.get(key) : undefined;
    return { path: rootfs, ...(mine && module && module !== UNKNOWN ? { module } : {}) };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** `/app/main.wasm` -> `app/main.wasm`, the unpacker's key for a path; undefined when it climbs (`..`). */
export function rootfsKey(path: string): string | undefined {
  const parts = posix.normalize(`/${path}`).split("/").filter(Boolean);
  return parts.includes("..") ? undefined : parts.join("/");
}

/** Resolves the module file inside a rootfs, following links only while they stay inside. */
async function moduleFile(
  rootfs: string,
  path: string,
  name: string,
): Promise<{ real: string; direct: boolean }> {
  let real: string;
  try {
    real = await realpath(join(rootfs, path));
  } catch {
    throw notFound(`${name}: the image names its module ${path}, but no such file is in its layers`);
  }
  const rel = relative(await realpath(rootfs), real);
  if (rel === ".." || rel.startsWith(`..${sep}`)) {
    throw invalidArgument(`${name}: module path ${path} leads outside the image's rootfs`);
  }
  return { real, direct: rel === rootfsKey(path) };
}

/** Reads the wasm header of a file; refuses non-wasm and components with the reason. */
async function moduleKind(file: string, what: string): Promise<WasmKind> {
  const header = await readWasmFileHeader(file);
  if ("error" in header) throw invalidArgument(`${what}: ${header.error}`);
  if (header.kind === "component") {
    throw failedPrecondition(
      `${what} is a WebAssembly component (WASI preview 2); nodewasi runs preview 1 modules with node:wasi`,
    );
  }
  return header.kind;
}

/**
 * Extracts the module `loc` names and stores it under its digest (linked: store.importModule). A raw layer is
 * a verified blob; a file of the rootfs is hashed again only when the unpacker did not hash it at that very
 * path (a symlink in between, or a rootfs another pull unpacked).
 */
export async function extractModule(
  store: ContentStore,
  loc: ModuleLocation,
  name: string,
  rootfs: UnpackedRootfs | undefined,
  lease?: Lease,
): Promise<ExtractedModule> {
  if (loc.module.kind === "layer") {
    const layer = loc.module.layer;
    const file = store.blobPath(layer.digest);
    const kind = await moduleKind(file, `layer ${layer.digest} of ${name}`);
    const stored = await store.importModule(file, {
      digest: layer.digest,
      verified: true,
      ...(lease ? { lease } : {}),
    });
    return { ...stored, kind, source: layer.digest };
  }
  if (!rootfs) throw invalidArgument(`${name}: the module is in tar layers but none were unpacked`);
  const file = await moduleFile(rootfs.path, loc.module.path, name);
  const kind = await moduleKind(file.real, `${loc.module.path} in ${name}`);
  const known = file.direct ? rootfs.module : undefined;
  const stored = await store.importModule(file.real, {
    ...(known ? { digest: known.digest, verified: true } : {}),
    ...(lease ? { lease } : {}),
  });
  return { ...stored, kind, source: loc.module.path };
}
