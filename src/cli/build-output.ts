/**
 * What `nodewasi build` shares between packaging a module and building an index: its flags and result, the
 * checks of the name (`-t`, `--index`) and of `--output`, and where a build goes (the store, or a layout).
 */
import { resolve } from "node:path";
import { invalidArgument } from "../internal/index.js";
import type { BuiltImage, CopyResult, ImageFormat, Platform } from "../oci/index.js";
import type { CliContext } from "./context.js";

export interface BuildFlags {
  tag?: string;
  format: ImageFormat;
  platform?: string;
  entrypoint?: string;
  env: string[];
  annotation: string[];
  file: string[];
  workdir?: string;
  created?: string;
  output?: string;
  index?: string;
  add: string[];
  attest?: boolean;
  json?: boolean;
  quiet?: boolean;
  push?: boolean;
  plainHttp?: boolean;
}

/** What `--json` prints, and what the summary shows. */
export interface BuildResult {
  /** The name it was built as (`-t` or `--index`), normalised; absent when only `--output` named it. */
  ref?: string;
  digest: string;
  mediaType: string;
  size: number;
  /** `image`, `docker`, ... for a single image; `index` for an index. */
  format: ImageFormat | "index";
  /** The image's platform (single images). */
  platform?: Platform;
  /** The platforms of an index's entries, attestations included, in order. */
  platforms?: (Platform | null)[];
  /** Where it went: `store:<root>`, or the `oci:`/`oci-archive:` destination with its tag. */
  output: string;
  /** The packaged module (single images). */
  module?: { digest: string; size: number; kind: string };
  /** With `--push`: what the push did, as `nodewasi push --json` prints it. */
  push?: CopyResult;
}

/** The oci module, loaded lazily by the actions so `--help` stays fast. */
export type Oci = typeof import("../oci/index.js");

/** `-t`/`--index` must name an image by tag: `hello:v1` -> `docker.io/library/hello:v1`. */
export function parseName(oci: Oci, option: string, s: string): { name: string; tag: string } {
  if (/^(?:oci|oci-archive|docker):/.test(s)) {
    throw invalidArgument(`${option} ${s}: name the image (e.g. app:v1); write layouts with --output ${s}`);
  }
  const r = oci.parseReference(s);
  if (r.digest) throw invalidArgument(`${option} ${s}: an image is named by a tag, not a digest`);
  return { name: oci.formatReference(r), tag: r.tag ?? "latest" };
}

/** Where `--output` writes: a layout directory or archive, and the tag to record. */
export interface Destination {
  kind: "oci" | "oci-archive";
  path: string;
  tag: string;
}

/** Parses `--output`; the tag defaults to the name's. Undefined when there is no `--output` (the store). */
export function destination(
  oci: Oci,
  output: string | undefined,
  defaultTag: string | undefined,
): Destination | undefined {
  if (output === undefined) return undefined;
  const spec = /^oci(?:-archive)?:/.test(output) ? oci.parseSourceSpec(output) : undefined;
  if (!spec || spec.kind === "registry") {
    throw invalidArgument(
      `--output ${JSON.stringify(output)}: want oci:DIR[:TAG] or oci-archive:FILE[:TAG]; to push to a registry, name it with -t REGISTRY/REPO:TAG and add --push`,
    );
  }
  const tag = spec.tag ?? defaultTag;
  if (!tag) throw invalidArgument(`--output ${output} has no :TAG and there is no -t to take it from`);
  return { kind: spec.kind, path: spec.path, tag };
}

/** Writes `image` to `dest`; returns the destination as `oci:/abs/dir:tag` (or `oci-archive:...`). */
export async function writeDestination(
  oci: Oci,
  dest: Destination,
  image: BuiltImage,
  name?: string,
): Promise<string> {
  const path = resolve(dest.path);
  // The full name too, as buildx's OCI exporter writes it, so `ctr import` knows what to call the image.
  const named: BuiltImage = name
    ? { ...image, manifest: { ...image.manifest, annotations: { [oci.Annotation.ImageName]: name } } }
    : image;
  if (dest.kind === "oci") await oci.writeLayout(path, [{ image: named, tag: dest.tag }]);
  else await oci.writeLayoutArchive(path, [{ image: named, tag: dest.tag }]);
  return `${dest.kind}:${path}:${dest.tag}`;
}

/** Stores `image` under `name` through the pull path; a single image's own platform is the one chosen. */
export async function storeBuilt(
  ctx: CliContext,
  oci: Oci,
  image: BuiltImage,
  name: string,
  platform?: Platform,
): Promise<string> {
  const db = await oci.ContentStore.open(ctx.root);
  await oci.storeImage(db, image, name, { logger: ctx.logger, ...(platform ? { platform } : {}) });
  return `store:${ctx.root}`;
}
