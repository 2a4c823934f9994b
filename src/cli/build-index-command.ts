/**
 * `nodewasi build --index REF --add A,B [--attest]`: an index over images that are in the store (built or
 * pulled) or in OCI layouts, each read whole (oci/build/build-load.ts), with buildx-style attestation entries on
 * request; stored under REF or written to `--output`.
 */
import type { Command } from "commander";
import { Code, invalidArgument, notFound, ShimError } from "../internal/index.js";
import type { ContentStore, IndexEntry } from "../oci/index.js";
import { parseAnnotations } from "./build-inputs.js";
import {
  type BuildFlags,
  type BuildResult,
  destination,
  type Oci,
  parseName,
  storeBuilt,
  writeDestination,
} from "./build-output.js";
import type { CliContext } from "./context.js";

/** Options that shape a module's image, refused with `--index`. */
const MODULE_ONLY = ["format", "platform", "entrypoint", "workdir", "created", "file", "env"] as const;

/** Builds the index `--index` names over the `--add` images; stores it or writes it to `--output`. */
export async function buildIndexAction(
  ctx: CliContext,
  module: string | undefined,
  flags: BuildFlags,
  cmd: Command,
): Promise<BuildResult> {
  const oci = await import("../oci/index.js");
  if (module !== undefined)
    throw invalidArgument(`--index builds from --add images; drop ${module}, or drop --index`);
  if (flags.tag !== undefined) throw invalidArgument("--index names the index; drop -t");
  const given = MODULE_ONLY.filter((o) => cmd.getOptionValueSource(o) === "cli");
  if (given.length) {
    throw invalidArgument(
      `${given.map((o) => `--${o}`).join(", ")} ${given.length === 1 ? "applies" : "apply"} to a module build, not to --index`,
    );
  }
  const ref = parseName(oci, "--index", flags.index!);
  const dest = destination(oci, flags.output, ref.tag);
  const items = flags.add.flatMap((a) => a.split(",")).filter((a) => a !== "");
  if (items.length === 0) throw invalidArgument("--index needs images: add --add REF[,REF...]");
  const annotations = parseAnnotations(flags.annotation);

  const storeDb = await oci.ContentStore.open(ctx.root);
  const entries: IndexEntry[] = [];
  for (const item of items) entries.push(await loadEntry(oci, storeDb, item));
  const index = oci.buildIndex(entries, {
    ...(flags.attest
      ? { attestationFor: entries.filter((e) => e.image.manifest.platform).map((e) => e.image) }
      : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  });
  const output = dest
    ? await writeDestination(oci, dest, index, ref.name)
    : await storeBuilt(ctx, oci, index, ref.name);
  const manifests = (
    JSON.parse(index.blobs.get(index.manifest.digest)!.toString()) as {
      manifests: IndexEntry["image"]["manifest"][];
    }
  ).manifests;
  return {
    ref: ref.name,
    digest: index.manifest.digest,
    mediaType: index.manifest.mediaType,
    size: index.manifest.size,
    format: "index",
    platforms: manifests.map((m) => m.platform ?? null),
    output,
  };
}

/** An `--add` item as an index entry: from a layout source, or from the store by name. */
async function loadEntry(oci: Oci, db: ContentStore, item: string): Promise<IndexEntry> {
  if (/^oci(?:-archive)?:/.test(item)) {
    const { source } = await oci.openSource(item);
    try {
      return { image: await oci.loadImage(source) };
    } finally {
      await source.close();
    }
  }
  const { findImage } = await import("./image-record.js");
  const record = await findImage(db, item).catch((err: unknown) => {
    throw notFound(
      `--add ${item}: not in the store; build it (nodewasi build MODULE -t ${item}), pull it, or give oci:DIR:TAG`,
      { cause: err },
    );
  });
  const source = await oci.layoutSource(db.root, record.name);
  try {
    const image = await oci.loadImage(source).catch((err: unknown) => {
      if (ShimError.from(err).code !== Code.NotFound) throw err;
      throw notFound(
        `--add ${item}: only part of ${record.name} is in the store (a pull keeps only the manifest it chose); add it from a layout (oci:DIR:TAG) instead`,
        { cause: err },
      );
    });
    const isManifest = oci.isManifestType(image.manifest.mediaType);
    const platform = image.manifest.platform ?? (isManifest ? record.pulled?.platform : undefined);
    return { image: platform ? { ...image, manifest: { ...image.manifest, platform } } : image };
  } finally {
    await source.close();
  }
}
