/**
 * Builds image indexes (OCI) and manifest lists (Docker) over built images, including buildx-style attestation
 * entries and nested indexes, for fixtures that exercise platform selection.
 */
import type { Digest } from "../../internal/index.js";
import { Annotation, type Descriptor, MediaType, type Platform } from "../image/index.js";
import { addBlob, type BuiltImage, EPOCH, jsonBytes } from "./build.js";

/** One `manifests[]` entry of an index. */
export interface IndexEntry {
  /** An image or an index (nested indexes are allowed, as image-spec says a client SHOULD support). */
  image: BuiltImage;
  /** The entry's platform; defaults to the image's own; `null` writes an entry without a platform. */
  platform?: Platform | null;
  annotations?: Record<string, string>;
}

/** Index-wide choices: Docker or OCI types, an attestation, annotations. */
export interface BuildIndexOptions {
  /** A Docker manifest list instead of an OCI index. */
  docker?: boolean;
  /**
   * Appends a buildx-style attestation manifest for this image, or one for each of these images, after the
   * entries (buildx writes one per platform image; each subject should also be an entry).
   */
  attestationFor?: BuiltImage | readonly BuiltImage[];
  /** Index annotations. */
  annotations?: Record<string, string>;
}

/** The in-toto layer type buildx uses for provenance and SBOM attestations. */
export const IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json";

/**
 * Builds an index over `entries`, in order. The result's blobs hold the index and every blob of every entry;
 * its descriptor has no platform.
 */
export function buildIndex(entries: readonly IndexEntry[], opts: BuildIndexOptions = {}): BuiltImage {
  const blobs = new Map<Digest, Buffer>();
  const manifests: Descriptor[] = [];
  for (const e of entries) {
    for (const [d, b] of e.image.blobs) blobs.set(d, b);
    const { platform: own, annotations: ownAnn, ...rest } = e.image.manifest;
    const desc: Descriptor = { ...rest };
    const platform = e.platform === undefined ? own : e.platform;
    if (platform) desc.platform = { ...platform };
    const annotations = { ...ownAnn, ...e.annotations };
    if (Object.keys(annotations).length > 0) desc.annotations = annotations;
    manifests.push(desc);
  }
  const subjects = opts.attestationFor === undefined ? [] : [opts.attestationFor].flat();
  for (const subject of subjects) {
    const att = buildAttestation(subject);
    for (const [d, b] of att.blobs) blobs.set(d, b);
    manifests.push({
      ...att.manifest,
      platform: { architecture: "unknown", os: "unknown" },
      annotations: {
        [Annotation.DockerReferenceDigest]: subject.manifest.digest,
        [Annotation.DockerReferenceType]: "attestation-manifest",
      },
    });
  }
  const mediaType = opts.docker ? MediaType.DockerManifestList : MediaType.OciIndex;
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests,
    ...(opts.annotations && Object.keys(opts.annotations).length > 0
      ? { annotations: opts.annotations }
      : {}),
  };
  const desc = addBlob(blobs, mediaType, jsonBytes(index));
  return { manifest: desc, blobs };
}

/**
 * An attestation manifest shaped as buildx writes one (`docker buildx build --provenance`): an OCI manifest
 * whose config says `unknown/unknown` and whose one layer is an in-toto statement about `subject`.
 */
function buildAttestation(subject: BuiltImage): BuiltImage {
  const blobs = new Map<Digest, Buffer>();
  const statement = {
    _type: "https://in-toto.io/Statement/v0.1",
    predicateType: "https://slsa.dev/provenance/v0.2",
    subject: [{ name: "_", digest: { sha256: subject.manifest.digest.slice(7) } }],
    predicate: { builder: { id: "" }, buildType: "https://mobyproject.org/buildkit@v1", metadata: {} },
  };
  const layer = addBlob(blobs, IN_TOTO_MEDIA_TYPE, jsonBytes(statement), {
    "in-toto.io/predicate-type": statement.predicateType,
  });
  const config = addBlob(
    blobs,
    MediaType.OciConfig,
    jsonBytes({
      architecture: "unknown",
      os: "unknown",
      config: {},
      created: EPOCH,
      rootfs: { type: "layers", diff_ids: [layer.digest] },
    }),
  );
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] };
  return { manifest: addBlob(blobs, MediaType.OciManifest, jsonBytes(manifest)), blobs };
}
