/**
 * Builds wasm images in memory, reproducibly, in each packaging format a wasm puller meets
 * (../shared/reference/oci-wasm-images.md section 2). The test fixtures build every format with it, and
 * `nodewasi build` (issue 5) packages a user's module with it. Same options, same bytes, same digests: all
 * timestamps default to the epoch, tar headers carry mtime 0 and uid/gid 0, JSON is written in a fixed key
 * order and gzip output carries no timestamp.
 */
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { type Digest, invalidArgument, readWasmHeader, sha256 } from "../../internal/index.js";
import { Annotation, type Descriptor, MediaType, type Platform } from "../image/index.js";
import { componentWorld } from "./build-component.js";
import { buildTar, type TarEntry, tarChunks } from "./build-tar.js";
import { type PackedLayer, packTarLayer, tarPieces } from "./pack-layer.js";

/**
 * Packaging formats:
 * - `image`: OCI image, tar layer holding the module at the entrypoint, config `Entrypoint` (docker buildx
 *   `FROM scratch; COPY x.wasm /; ENTRYPOINT ["/x.wasm"]`, and runwasi's wasi-demo-app).
 * - `docker`: the same with Docker schema2 media types.
 * - `compat`: solo-io/Istio compat variant: `plugin.wasm` in one gzip tar layer, a `linux/amd64` config and the
 *   manifest annotation `module.wasm.image/variant=compat`.
 * - `artifact`: CNCF TAG-Runtime Wasm OCI Artifact (config `application/vnd.wasm.config.v0+json`, one
 *   `application/wasm` layer).
 * - `wasm-to-oci`: engineerd/wasm-to-oci (config `{}` of type `application/vnd.wasm.config.v1+json`, no
 *   top-level `mediaType`).
 * - `runwasi`: runwasi's oci-tar-builder "wasm layers" image (raw
 *   `application/vnd.bytecodealliance.wasm.component.layer.v0+wasm` layer, empty `diff_ids`).
 * - `oras`: what `oras push ref module.wasm` makes: empty config, an `artifactType`, and the raw module in a
 *   layer typed `application/vnd.oci.image.layer.v1.tar` (the ORAS CLI default layer type).
 */
export type ImageFormat = "image" | "docker" | "compat" | "artifact" | "wasm-to-oci" | "runwasi" | "oras";

/** Every format `buildImage` writes, for tests and `--format` help that must cover them all. */
export const IMAGE_FORMATS: readonly ImageFormat[] = [
  "image",
  "docker",
  "compat",
  "artifact",
  "wasm-to-oci",
  "runwasi",
  "oras",
];

/** A built image (or index): its descriptor, and every blob it needs (configs, layers, manifests), by digest. */
export interface BuiltImage {
  /** The manifest (or index) descriptor; `platform` is set for single-platform manifests. */
  manifest: Descriptor;
  blobs: Map<Digest, Buffer>;
}

/** An additional layer appended after the module's layer, taken as is (for multi-layer or odd fixtures). */
export interface ExtraLayer {
  mediaType: string;
  data: Uint8Array;
  annotations?: Record<string, string>;
}

/** What to package and how; only `module` and `format` are required, every default is reproducible. */
export interface BuildImageOptions {
  /** The module bytes; not validated, so fixtures can package broken or non-wasm content on purpose. */
  module: Uint8Array;
  format: ImageFormat;
  /** Defaults to `wasip1/wasm` (`wasip2/wasm` for a component, as oci-wasm writes); `linux/amd64` for `compat`. */
  platform?: Platform;
  /** Where the module lives in the rootfs; `/module.wasm` (`/plugin.wasm` for `compat`). */
  entrypoint?: string;
  cmd?: string[];
  env?: string[];
  /** The guest's working directory (config `WorkingDir`). */
  workingDir?: string;
  /** Manifest annotations (merged after the ones a format sets itself). */
  annotations?: Record<string, string>;
  /** Extra tar entries after the module (tar formats only), written literally: hostile names stay hostile. */
  files?: TarEntry[];
  /** Tar layer compression; gzip by default. */
  compression?: "none" | "gzip";
  /** Replaces `compression`: turns the tar into the layer blob and names its media type (e.g. zstd). */
  compressLayer?: (tar: Buffer) => { data: Buffer; mediaType: string };
  extraLayers?: ExtraLayer[];
  /** RFC 3339 creation time for configs and annotations; the epoch by default. */
  created?: string;
  /** Manifest `artifactType`; defaults to ORAS's `application/vnd.unknown.artifact.v1` for `oras`. */
  artifactType?: string;
}

/** The creation time of reproducible builds, as BuildKit writes it under SOURCE_DATE_EPOCH=0. */
export const EPOCH = "1970-01-01T00:00:00Z";

/** The ORAS CLI's `artifactType` when `--artifact-type` is not given (oras >= 1.1, image-spec v1.1). */
export const ORAS_DEFAULT_ARTIFACT_TYPE = "application/vnd.unknown.artifact.v1";

const WASM_PLATFORM: Platform = { architecture: "wasm", os: "wasip1" };
const COMPONENT_PLATFORM: Platform = { architecture: "wasm", os: "wasip2" };
const COMPAT_PLATFORM: Platform = { architecture: "amd64", os: "linux" };
/** The formats whose module sits in a tar layer, the only ones that can hold extra `files`. */
export const TAR_LAYER_FORMATS: readonly ImageFormat[] = ["image", "docker", "compat"];

/** Builds one single-platform image in `opts.format`. Throws `InvalidArgument` for options a format cannot hold. */
export function buildImage(opts: BuildImageOptions): BuiltImage {
  checkOptions(opts);
  return assemble(opts, TAR_LAYER_FORMATS.includes(opts.format) ? packSync(opts) : undefined);
}

/**
 * The image `buildImage` builds, byte for byte, with a gzip tar layer packed off the main thread in one pass
 * over the module (pack-layer.ts) instead of in copies and a synchronous gzip: what `nodewasi build` uses, so a
 * large module costs about one gzip of it. Other layers (raw, plain tar, `compressLayer`) are built as
 * `buildImage` builds them.
 *
 * `alongside`, when given, is handed the gzip layer's uncompressed tar as a stream while it is packed, and the
 * build waits for it too (the store unpacks the rootfs from it: build-store.ts). It is not called for other
 * layers; its failure is its own, never the build's.
 */
export async function buildImageAsync(
  opts: BuildImageOptions,
  alongside?: (tar: Readable) => Promise<unknown>,
): Promise<BuiltImage> {
  checkOptions(opts);
  const tarFormat = TAR_LAYER_FORMATS.includes(opts.format);
  if (!tarFormat || opts.compressLayer || opts.compression === "none") {
    return assemble(opts, tarFormat ? packSync(opts) : undefined);
  }
  const chunks = tarChunks(layerEntries(opts));
  const side = alongside?.(Readable.from(tarPieces(chunks))).catch(() => {});
  const packed = await packTarLayer(chunks).finally(() => side);
  return assemble(opts, { ...packed, mediaType: gzipLayerType(opts.format) });
}

/** A tar layer ready for the image: its blob (not copied again), digests and media type. */
interface TarLayer extends PackedLayer {
  mediaType: string;
}

/** Refuses options the format cannot hold (`InvalidArgument`), before any work is done. */
function checkOptions(opts: BuildImageOptions): void {
  const format = opts.format;
  if (!IMAGE_FORMATS.includes(format)) {
    throw invalidArgument(
      `unknown image format ${JSON.stringify(format)}; use one of ${IMAGE_FORMATS.join(", ")}`,
    );
  }
  const tarFormat = TAR_LAYER_FORMATS.includes(format);
  if (!tarFormat && (opts.files?.length || opts.compression || opts.compressLayer)) {
    throw invalidArgument(
      `format ${format} stores the module as a raw layer, so files and compression do not apply; use image, docker or compat`,
    );
  }
  const noConfig = format === "artifact" || format === "wasm-to-oci" || format === "oras";
  if (noConfig && (opts.env || opts.cmd || opts.workingDir !== undefined)) {
    throw invalidArgument(
      `format ${format} has no image config to hold env, cmd or a working directory; use image, docker, compat or runwasi`,
    );
  }
}

/** Where the module lives in the rootfs: `opts.entrypoint`, else `/module.wasm` (`/plugin.wasm` for `compat`). */
export function entrypointOf(opts: BuildImageOptions): string {
  return opts.entrypoint ?? (opts.format === "compat" ? "/plugin.wasm" : "/module.wasm");
}

/** The tar layer's entries: the module at its entrypoint, then `opts.files`. */
function layerEntries(opts: BuildImageOptions): TarEntry[] {
  return [
    { path: entrypointOf(opts).replace(/^\/+/, ""), data: opts.module, mode: 0o755 },
    ...(opts.files ?? []),
  ];
}

function gzipLayerType(format: ImageFormat): string {
  return format === "docker" ? MediaType.DockerLayerGzip : MediaType.OciLayerGzip;
}

/** The image of checked `opts`, around `tarLayer` (given for, and only for, the tar formats). */
function assemble(opts: BuildImageOptions, tarLayer: TarLayer | undefined): BuiltImage {
  const format = opts.format;
  const header = readWasmHeader(opts.module);
  const component = "kind" in header && header.kind === "component";
  const platform =
    opts.platform ?? (format === "compat" ? COMPAT_PLATFORM : component ? COMPONENT_PLATFORM : WASM_PLATFORM);
  const entrypoint = entrypointOf(opts);
  const created = opts.created ?? EPOCH;
  const blobs = new Map<Digest, Buffer>();
  const moduleName = entrypoint.slice(entrypoint.lastIndexOf("/") + 1) || "module.wasm";

  let layer: Descriptor;
  let config: { mediaType: string; body: unknown };
  const annotations: Record<string, string> = {};
  if (tarLayer) {
    const docker = format === "docker";
    blobs.set(tarLayer.digest, tarLayer.data);
    layer = { mediaType: tarLayer.mediaType, digest: tarLayer.digest, size: tarLayer.data.length };
    const run: Record<string, string[] | string> = {};
    if (format !== "compat" || opts.entrypoint !== undefined) run.Entrypoint = [entrypoint];
    if (opts.cmd) run.Cmd = opts.cmd;
    if (opts.env) run.Env = opts.env;
    if (opts.workingDir !== undefined) run.WorkingDir = opts.workingDir;
    config = {
      mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig,
      body: {
        created,
        ...platformFields(platform),
        config: run,
        rootfs: { type: "layers", diff_ids: [tarLayer.diffId] },
      },
    };
    if (format === "compat") annotations[Annotation.WasmVariant] = "compat";
  } else if (format === "artifact") {
    layer = addBlob(blobs, MediaType.Wasm, opts.module);
    config = {
      mediaType: MediaType.WasmConfigV0,
      body: {
        created,
        author: null,
        architecture: platform.architecture,
        os: platform.os,
        layerDigests: [layer.digest, ...(opts.extraLayers ?? []).map((l) => sha256(l.data))],
        // Required when os is wasip2 (rust-oci-wasm config.rs); null for a module.
        component: component ? componentWorld(opts.module) : null,
      },
    };
  } else if (format === "wasm-to-oci") {
    layer = addBlob(blobs, MediaType.WasmContentLayer, opts.module, { [Annotation.Title]: moduleName });
    config = { mediaType: MediaType.WasmToOciConfig, body: {} };
  } else if (format === "runwasi") {
    layer = addBlob(blobs, MediaType.RunwasiLayer, opts.module);
    // runwasi's oci-tar-builder: the label is the hex sha256 of the layers' hex digests joined, so the config
    // is unique per module although diff_ids is empty (image-spec PR #1173).
    const hexes = [layer.digest, ...(opts.extraLayers ?? []).map((l) => sha256(l.data))].map((d) =>
      d.slice(7),
    );
    const run: Record<string, unknown> = { Entrypoint: [moduleName] };
    if (opts.cmd) run.Cmd = opts.cmd;
    if (opts.env) run.Env = opts.env;
    if (opts.workingDir !== undefined) run.WorkingDir = opts.workingDir;
    run.Labels = { "containerd.runwasi.layers": sha256(hexes.join("")).slice(7) };
    config = {
      mediaType: MediaType.OciConfig,
      // No `created`: oci-tar-builder leaves it out, so the config depends on the module alone.
      body: { ...platformFields(platform), config: run, rootfs: { type: "layers", diff_ids: [] } },
    };
  } else {
    layer = addBlob(blobs, MediaType.OciLayer, opts.module, { [Annotation.Title]: moduleName });
    config = { mediaType: MediaType.OciEmpty, body: {} };
    annotations[Annotation.Created] = created;
  }

  const layers = [
    layer,
    ...(opts.extraLayers ?? []).map((l) => addBlob(blobs, l.mediaType, l.data, l.annotations)),
  ];
  const configDesc = addBlob(blobs, config.mediaType, jsonBytes(config.body));
  Object.assign(annotations, opts.annotations);
  const manifestType = format === "docker" ? MediaType.DockerManifest : MediaType.OciManifest;
  const artifactType = opts.artifactType ?? (format === "oras" ? ORAS_DEFAULT_ARTIFACT_TYPE : undefined);
  const manifest = {
    schemaVersion: 2,
    ...(format === "wasm-to-oci" ? {} : { mediaType: manifestType }),
    ...(artifactType === undefined ? {} : { artifactType }),
    config: configDesc,
    layers,
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const desc = addBlob(blobs, manifestType, jsonBytes(manifest));
  return { manifest: { ...desc, platform: { ...platform } }, blobs };
}

/** JSON bytes of `value` as nodewasi writes every document: compact, in the key order given. */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** Adds `data` to `blobs` and returns its descriptor. */
export function addBlob(
  blobs: Map<Digest, Buffer>,
  mediaType: string,
  data: Uint8Array,
  annotations?: Record<string, string>,
): Descriptor {
  const buf = Buffer.from(data);
  const digest = sha256(buf);
  blobs.set(digest, buf);
  const desc: Descriptor = { mediaType, digest, size: buf.length };
  if (annotations && Object.keys(annotations).length > 0) desc.annotations = { ...annotations };
  return desc;
}

/** The tar layer of `opts`, built and packed in memory (`compressLayer`, none, or gzip). */
function packSync(opts: BuildImageOptions): TarLayer {
  const tar = buildTar(layerEntries(opts));
  const packed = packLayer(tar, opts);
  const data = Buffer.from(packed.data);
  return { data, mediaType: packed.mediaType, digest: sha256(data), diffId: sha256(tar) };
}

function packLayer(tar: Buffer, opts: BuildImageOptions): { data: Uint8Array; mediaType: string } {
  if (opts.compressLayer) return opts.compressLayer(tar);
  const docker = opts.format === "docker";
  if (opts.compression === "none")
    return { data: tar, mediaType: docker ? MediaType.DockerLayer : MediaType.OciLayer };
  // zlib writes mtime 0 and a fixed OS byte, so the same tar always gzips to the same bytes.
  return { data: gzipSync(tar), mediaType: gzipLayerType(opts.format) };
}

/** The platform fields of an OCI/Docker image config, in config.md's order. */
function platformFields(p: Platform): Record<string, unknown> {
  const out: Record<string, unknown> = { architecture: p.architecture, os: p.os };
  if (p["os.version"] !== undefined) out["os.version"] = p["os.version"];
  if (p["os.features"] !== undefined) out["os.features"] = p["os.features"];
  if (p.variant !== undefined) out.variant = p.variant;
  return out;
}
