/**
 * Gets the module out of a pulled image (DESIGN decision 12) and keeps it in the store by its own digest:
 * a raw wasm layer is the module; tar layers are unpacked, in order, into the manifest's rootfs and the module
 * is the file the image names. Either way the bytes must start with `\0asm`, and a component is refused.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, realpath, rename, rm } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import {
  type Digest,
  DigestStream,
  failedPrecondition,
  invalidArgument,
  notFound,
  readWasmHeader,
  type WasmKind,
} from "../internal/index.js";
import type { ModuleLocation } from "./format.js";
import { tarLayerCompression } from "./media-types.js";
import type { ContentStore } from "./store.js";
import { unpackLayer } from "./unpack.js";

export interface ExtractedModule {
  digest: Digest;
  size: number;
  kind: WasmKind;
  path: string;
  source: string;
  rootfs?: string;
}

/** Unpacks `loc.tarLayers` (already in the store) into the manifest's rootfs, atomically: all layers or none. */
export async function unpackRootfs(
  store: ContentStore,
  manifest: Digest,
  loc: ModuleLocation,
  name: string,
): Promise<string> {
  const rootfs = store.rootfsPath(manifest);
  const tmp = `${rootfs}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true, mode: 0o755 });
  try {
    for (const layer of loc.tarLayers) {
      const compression = tarLayerCompression(layer.mediaType) ?? "none";
      await unpackLayer(createReadStream(store.blobPath(layer.digest)), compression, tmp, {
        name: `layer ${layer.digest} of ${name}`,
      });
    }
    await mkdir(dirname(rootfs), { recursive: true });
    await rm(rootfs, { recursive: true, force: true });
    await rename(tmp, rootfs);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return rootfs;
}

/** Resolves the module file inside a rootfs, following links only while they stay inside. */
async function moduleFile(rootfs: string, path: string, name: string): Promise<string> {
  const candidate = join(rootfs, path);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    throw notFound(`${name}: the image names its module ${path}, but no such file is in its layers`);
  }
  const rootReal = await realpath(rootfs);
  const rel = relative(rootReal, real);
  if (rel.startsWith(`..${sep}`) || rel === "..") {
    throw invalidArgument(`${name}: module path ${path} leads outside the image's rootfs`);
  }
  return real;
}

/** Hashes a file and checks its wasm header; refuses non-wasm and components with the reason. */
async function checkModule(
  file: string,
  what: string,
): Promise<{ digest: Digest; size: number; kind: WasmKind }> {
  const fh = await open(file, "r");
  const head = Buffer.alloc(8);
  try {
    await fh.read(head, 0, 8, 0);
  } finally {
    await fh.close();
  }
  const header = readWasmHeader(head);
  if ("error" in header) throw invalidArgument(`${what}: ${header.error}`);
  if (header.kind === "component") {
    throw failedPrecondition(
      `${what} is a WebAssembly component (WASI preview 2); nodewasi runs preview 1 modules with node:wasi`,
    );
  }
  const hasher = new DigestStream();
  for await (const chunk of createReadStream(file).pipe(hasher)) void chunk;
  return { digest: hasher.digest(), size: hasher.bytes, kind: header.kind };
}

/** Extracts the module `loc` names and stores it under its digest. `rootfs` is set when layers were unpacked. */
export async function extractModule(
  store: ContentStore,
  loc: ModuleLocation,
  name: string,
  rootfs: string | undefined,
): Promise<ExtractedModule> {
  if (loc.module.kind === "layer") {
    const layer = loc.module.layer;
    const file = store.blobPath(layer.digest);
    const checked = await checkModule(file, `layer ${layer.digest} of ${name}`);
    await store.putModule(file, checked.digest);
    return {
      ...checked,
      path: store.modulePath(checked.digest),
      source: layer.digest,
      ...(rootfs ? { rootfs } : {}),
    };
  }
  if (!rootfs) throw invalidArgument(`${name}: the module is in tar layers but none were unpacked`);
  const file = await moduleFile(rootfs, loc.module.path, name);
  const checked = await checkModule(file, `${loc.module.path} in ${name}`);
  await store.putModule(file, checked.digest);
  return { ...checked, path: store.modulePath(checked.digest), source: loc.module.path, rootfs };
}
