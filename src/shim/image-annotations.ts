/**
 * Which image a container was made from, as its runtime spec's annotations name it. containerd cannot unpack
 * wasm artifact images (CNCF Wasm OCI artifact, wasm-to-oci, runwasi wasm layers, ORAS: reference
 * oci-wasm-images.md section 2, containerd-shim-protocol.md section 7), so their rootfs arrives empty; when a
 * spec names the image, the shim pulls it itself (DESIGN "Flows", bundle-image.ts).
 */

/** nodewasi's own annotation: the image to pull when the rootfs has no module (`ctr run --annotation`). */
export const NODEWASI_IMAGE_ANNOTATION = "io.nodewasi.image";

/**
 * The annotations read, first match wins: containerd's CRI sets `io.kubernetes.cri.image-name` on every
 * container of a pod (containerd pkg/cri/annotations `ImageName`); `io.containerd.image.name` is containerd's
 * own name for an image's reference (the one `ctr image import` reads); the last is nodewasi's.
 */
export const IMAGE_ANNOTATIONS: readonly string[] = [
  "io.kubernetes.cri.image-name",
  "io.containerd.image.name",
  NODEWASI_IMAGE_ANNOTATION,
];

export interface AnnotatedImage {
  /** The image reference, as written in the annotation (trimmed). */
  image: string;
  /** The annotation it came from, for messages. */
  annotation: string;
}

/** The image the annotations name, in `IMAGE_ANNOTATIONS` order; blank values are skipped. */
export function annotatedImage(annotations: Record<string, string> | undefined): AnnotatedImage | undefined {
  for (const annotation of IMAGE_ANNOTATIONS) {
    const image = annotations?.[annotation]?.trim();
    if (image) return { image, annotation };
  }
  return undefined;
}
