/**
 * The OCI data model nodewasi reads and writes (opencontainers/image-spec: descriptor.md, manifest.md,
 * image-index.md, config.md). Fields nodewasi does not use are kept by `[key: string]: unknown`-free
 * structural typing: JSON is parsed and validated in manifest.ts, never trusted by cast alone.
 */
import type { Digest } from "../../internal/index.js";

export interface Platform {
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The parts of an image config (OCI or Docker) that nodewasi reads. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  "os.version"?: string;
  created?: string;
  config?: {
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
  };
  rootfs?: { type: string; diff_ids: string[] };
  /** CNCF Wasm OCI Artifact config fields. */
  layerDigests?: string[];
  component?: { exports?: string[]; imports?: string[]; target?: string } | null;
}

/** Well-known annotations. */
export const Annotation = {
  RefName: "org.opencontainers.image.ref.name",
  ImageName: "io.containerd.image.name",
  Title: "org.opencontainers.image.title",
  Created: "org.opencontainers.image.created",
  WasmVariant: "module.wasm.image/variant",
  DockerReferenceType: "vnd.docker.reference.type",
  DockerReferenceDigest: "vnd.docker.reference.digest",
  /** On a tag in the store: the manifest its last pull chose (the tag itself may name an index). */
  PulledManifest: "io.nodewasi.pull.manifest",
} as const;
