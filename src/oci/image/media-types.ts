/**
 * Media types a wasm puller meets (../shared/reference/oci-wasm-images.md section 2g), named once here.
 */
export const MediaType = {
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",

  OciConfig: "application/vnd.oci.image.config.v1+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  OciEmpty: "application/vnd.oci.empty.v1+json",
  /** CNCF TAG-Runtime Wasm OCI Artifact config. */
  WasmConfigV0: "application/vnd.wasm.config.v0+json",
  /** wasm-to-oci config (body `{}`). */
  WasmToOciConfig: "application/vnd.wasm.config.v1+json",
  SpinApplication: "application/vnd.fermyon.spin.application.v1+config",

  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayerNondistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciLayerNondistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  OciLayerNondistributableZstd: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  DockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerLayerZstd: "application/vnd.docker.image.rootfs.diff.tar.zstd",
  DockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",

  /** CNCF artifact layer; also wkg and runwasi. */
  Wasm: "application/wasm",
  /** runwasi's current raw wasm layer. */
  RunwasiLayer: "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm",
  /** runwasi, June to August 2023. */
  W3cWasmModule: "application/vnd.w3c.wasm.module.v1+wasm",
  WasmComponentV1: "application/vnd.wasm.component.v1+wasm",
  /** wasm-to-oci layer (also Spin's component layer). */
  WasmContentLayer: "application/vnd.wasm.content.layer.v1+wasm",
  /** solo-io/Istio oci variant and legacy wasmCloud. */
  ModuleWasmContentLayer: "application/vnd.module.wasm.content.layer.v1+wasm",
  SpinData: "application/vnd.wasm.content.layer.v1+data",
  SpinArchive: "application/vnd.wasm.content.bundle.v1.tar+gzip",
} as const;

export type MediaTypeName = (typeof MediaType)[keyof typeof MediaType];

export const INDEX_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
export const MANIFEST_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];

/** The Accept header for manifest requests: index and manifest types of both OCI and Docker. */
export const MANIFEST_ACCEPT = [...INDEX_TYPES, ...MANIFEST_TYPES].join(", ");

/** Layers whose content is a raw wasm binary, not a tar. */
export const RAW_WASM_LAYER_TYPES: readonly string[] = [
  MediaType.Wasm,
  MediaType.RunwasiLayer,
  MediaType.W3cWasmModule,
  MediaType.WasmComponentV1,
  MediaType.WasmContentLayer,
  MediaType.ModuleWasmContentLayer,
];

export type LayerCompression = "none" | "gzip" | "zstd";

/** The compression of a tar layer type, or undefined when the type is not a tar layer. */
export function tarLayerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case MediaType.OciLayer:
    case MediaType.OciLayerNondistributable:
    case MediaType.DockerLayer:
      return "none";
    case MediaType.OciLayerGzip:
    case MediaType.OciLayerNondistributableGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerForeignLayerGzip:
      return "gzip";
    case MediaType.OciLayerZstd:
    case MediaType.OciLayerNondistributableZstd:
    case MediaType.DockerLayerZstd:
      return "zstd";
    default:
      return undefined;
  }
}

export const isIndexType = (t: string | undefined): boolean => t !== undefined && INDEX_TYPES.includes(t);
export const isManifestType = (t: string | undefined): boolean =>
  t !== undefined && MANIFEST_TYPES.includes(t);
