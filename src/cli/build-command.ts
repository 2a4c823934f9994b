/**
 * `nodewasi build MODULE.wasm -t REF`: package a module as a wasm image in one of the formats wasm runtimes
 * read (oci/build.ts), and `nodewasi build --index REF --add A,B`: put images into a multi-platform index.
 * Without `--output` the result goes into the content store, tagged REF, through the same code as a pull
 * (oci/build-store.ts), so `images`, `inspect`, `run` and `push` treat it as a pulled image; with
 * `--output oci:DIR[:TAG]` or `oci-archive:FILE[:TAG]` it is written there instead. Builds are reproducible:
 * the same inputs give the same digests unless `--created` says otherwise.
 */
import { basename } from "node:path";
import type { Command } from "commander";
import { Code, failedPrecondition, invalidArgument, notFound, ShimError, sha256 } from "../internal/index.js";
import type { BuiltImage, ContentStore, ImageFormat, IndexEntry, Platform } from "../oci/index.js";
import {
  collect,
  imagePath,
  parseAnnotations,
  parseCreated,
  parseKeyValue,
  readFileOptions,
} from "./build-inputs.js";
import { type CliContext, type CliState, contextFor } from "./context.js";
import { formatBytes } from "./format.js";

interface BuildFlags {
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
}

const TAR_FORMATS: readonly string[] = ["image", "docker", "compat"];
const MODULE_ONLY = ["format", "platform", "entrypoint", "workdir", "created", "file", "env"] as const;

/** Registers `build` on `parent`. */
export function buildCommand(parent: Command, state: CliState): Command {
  return parent
    .command("build")
    .description("package a .wasm module as an OCI image (or images as an index), into the store or a layout")
    .argument("[module]", "the WebAssembly module (.wasm) to package")
    .option("-t, --tag <ref>", "name the image REF (stored under it; the default tag of --output)")
    .option(
      "--format <format>",
      "packaging format: image, docker, compat, artifact, wasm-to-oci, runwasi, oras",
      "image",
    )
    .option("--platform <os/arch>", "platform of the image (default wasip1/wasm; linux/amd64 for compat)")
    .option("--entrypoint <path>", "where the module lives in the image (default /MODULE's file name)")
    .option("--env <K=V>", "an environment variable of the guest (repeatable)", collect, [])
    .option("--annotation <K=V>", "a manifest (or index) annotation (repeatable)", collect, [])
    .option(
      "--file <host:path>",
      "copy a host file or directory into the image's tar layer (repeatable)",
      collect,
      [],
    )
    .option("--workdir <dir>", "the guest's working directory")
    .option("--created <time>", "RFC 3339 creation time, or now (default 1970-01-01T00:00:00Z: reproducible)")
    .option("--output <dest>", "write to oci:DIR[:TAG] or oci-archive:FILE[:TAG] instead of the store")
    .option("--index <ref>", "build an index named REF over the --add images instead of packaging a module")
    .option(
      "--add <refs>",
      "images for --index: stored names, oci:DIR:TAG or oci-archive:FILE:TAG (comma-separated, repeatable)",
      collect,
      [],
    )
    .option("--attest", "with --index: add a buildx-style attestation entry (unknown/unknown) for each image")
    .option("-q, --quiet", "print only the digest")
    .option("--json", "print the result as JSON: ref, digest, mediaType, size, platform, format, output")
    .addHelpText(
      "after",
      `
Formats (../shared/reference/oci-wasm-images.md section 2):
  image        OCI image: the module in a gzip tar layer at its entrypoint (docker buildx FROM scratch)
  docker       the same with Docker schema2 media types
  compat       plugin.wasm in a tar layer, platform linux/amd64, annotation module.wasm.image/variant=compat
  artifact     CNCF Wasm OCI Artifact: config application/vnd.wasm.config.v0+json, one application/wasm layer
  wasm-to-oci  engineerd/wasm-to-oci: config {} (application/vnd.wasm.config.v1+json), a raw wasm layer
  runwasi      runwasi's oci-tar-builder: a raw application/vnd.bytecodealliance.wasm.component.layer.v0+wasm layer
  oras         what oras push makes: an empty config, an artifactType, the raw module in a layer
--file, --env and --workdir need an image config or a tar layer: --file works with image, docker and compat;
--env and --workdir with image, docker, compat and runwasi.

Without --output the image is stored under REF as if pulled: nodewasi images lists it and nodewasi run REF
runs it without a network. Times default to the epoch, so the same inputs always give the same digest.

Examples:
  $ nodewasi build examples/hello/hello.wasm -t hello:v1 && nodewasi run --rm hello:v1
  $ nodewasi build app.wasm -t registry.lan:5000/app:v1 --format image --env MODE=prod --file ./static:/static
  $ nodewasi build app.wasm -t app:v1 --format docker --workdir /srv --output oci:./layout
  $ nodewasi build app.wasm -t app:v1 --format compat --output oci-archive:./app.tar
  $ nodewasi build app.wasm -t app:v1 --format artifact --annotation org.opencontainers.image.version=1.0
  $ nodewasi build app.wasm -t app:v1 --format wasm-to-oci --output oci:./layout:wasm-to-oci
  $ nodewasi build app.wasm -t app:v1 --format runwasi --created now
  $ nodewasi build app.wasm -t app:v1 --format oras --output oci:./layout:oras
  $ nodewasi build app.wasm -t app:amd64 --platform linux/amd64
  $ nodewasi build --index app:multi --add app:v1,app:amd64 --attest
  $ nodewasi build --index app:multi --add oci:./linux-layout:v1 --add app:v1 --output oci:./layout
  $ DIGEST=$(nodewasi build -q app.wasm -t app:v1 --output oci:./layout)`,
    )
    .action(async (module: string | undefined, flags: BuildFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const result =
        flags.index !== undefined
          ? await buildIndexCommand(ctx, module, flags, cmd)
          : await buildModule(ctx, module, flags);
      if (flags.json) ctx.out(`${JSON.stringify(result, null, 2)}\n`);
      else if (flags.quiet) ctx.out(`${result.digest}\n`);
      else ctx.out(await buildSummary(result));
    });
}

async function buildModule(
  ctx: CliContext,
  module: string | undefined,
  flags: BuildFlags,
): Promise<BuildResult> {
  const oci = await import("../oci/index.js");
  if (module === undefined) {
    throw invalidArgument(
      "no module given; write nodewasi build MODULE.wasm -t REF (or --index REF --add A,B)",
    );
  }
  if (flags.add.length > 0 || flags.attest) throw invalidArgument("--add and --attest go with --index REF");
  // Everything on the command line is checked before the module is read.
  if (!oci.IMAGE_FORMATS.includes(flags.format)) {
    throw invalidArgument(
      `unknown --format ${JSON.stringify(flags.format)}; use one of ${oci.IMAGE_FORMATS.join(", ")}`,
    );
  }
  const ref = flags.tag === undefined ? undefined : parseName(oci, "-t", flags.tag);
  const dest = destination(oci, flags.output, ref?.tag);
  if (!ref && !dest) throw invalidArgument("no name given; add -t REF (or --output with a :TAG)");
  if (flags.file.length > 0 && !TAR_FORMATS.includes(flags.format)) {
    throw invalidArgument(
      `--file needs a tar layer, and format ${flags.format} stores the module as a raw layer; use --format image, docker or compat`,
    );
  }
  const platform = flags.platform === undefined ? undefined : oci.parsePlatform(flags.platform);
  const entrypoint = flags.entrypoint === undefined ? undefined : imagePath("--entrypoint", flags.entrypoint);
  const env = flags.env.map((e) => parseKeyValue("--env", e).join("="));
  const annotations = parseAnnotations(flags.annotation);
  const workingDir = flags.workdir === undefined ? undefined : imagePath("--workdir", flags.workdir, false);
  const created = flags.created === undefined ? undefined : parseCreated(flags.created);
  const files = await readFileOptions(flags.file);

  const bytes = await readModule(module);
  // A well-framed module or a component header, checked by the same reader as `nodewasi inspect`.
  const { inspectWasm } = await import("../wasi/index.js");
  let header: { kind: "module" | "component" };
  try {
    header = inspectWasm(bytes, module);
  } catch (err) {
    throw invalidArgument(
      `${ShimError.from(err).rawMessage}; give a WebAssembly module (.wasm) built for WASI preview 1`,
      { cause: err },
    );
  }
  if (header.kind === "component" && !dest) {
    throw failedPrecondition(
      `${module} is a WebAssembly component (WASI preview 2), which nodewasi cannot run, so it is not stored; ` +
        "write it elsewhere with --output oci:DIR or oci-archive:FILE",
    );
  }
  const format = flags.format;
  const defaultEntrypoint = format === "compat" ? undefined : `/${basename(module)}`;
  const path = entrypoint ?? defaultEntrypoint;
  if (path && files.some((f) => `/${f.path.replace(/\/$/, "")}` === path)) {
    throw invalidArgument(
      `--file writes ${path}, where the module goes; choose another path or --entrypoint`,
    );
  }
  const image = oci.buildImage({
    module: bytes,
    format,
    ...(platform ? { platform } : {}),
    ...(path ? { entrypoint: path } : {}),
    ...(env.length ? { env } : {}),
    ...(workingDir !== undefined ? { workingDir } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(files.length ? { files } : {}),
    ...(created ? { created } : {}),
  });
  const built = image.manifest.platform!;
  const output = dest
    ? await writeDestination(oci, dest, image, ref?.name)
    : await store(ctx, oci, image, ref!.name, built);
  return {
    ...(ref ? { ref: ref.name } : {}),
    digest: image.manifest.digest,
    mediaType: image.manifest.mediaType,
    size: image.manifest.size,
    format,
    platform: built,
    output,
    module: { digest: sha256(bytes), size: bytes.length, kind: header.kind },
  };
}

async function buildIndexCommand(
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
    : await store(ctx, oci, index, ref.name);
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

type Oci = typeof import("../oci/index.js");

/** `-t`/`--index` must name an image by tag: `hello:v1` -> `docker.io/library/hello:v1`. */
function parseName(oci: Oci, option: string, s: string): { name: string; tag: string } {
  if (/^(?:oci|oci-archive|docker):/.test(s)) {
    throw invalidArgument(`${option} ${s}: name the image (e.g. app:v1); write layouts with --output ${s}`);
  }
  const r = oci.parseReference(s);
  if (r.digest) throw invalidArgument(`${option} ${s}: an image is named by a tag, not a digest`);
  return { name: oci.formatReference(r), tag: r.tag ?? "latest" };
}

interface Destination {
  kind: "oci" | "oci-archive";
  path: string;
  tag: string;
}

function destination(
  oci: Oci,
  output: string | undefined,
  defaultTag: string | undefined,
): Destination | undefined {
  if (output === undefined) return undefined;
  const spec = /^oci(?:-archive)?:/.test(output) ? oci.parseSourceSpec(output) : undefined;
  if (!spec || spec.kind === "registry") {
    throw invalidArgument(
      `--output ${JSON.stringify(output)}: want oci:DIR[:TAG] or oci-archive:FILE[:TAG]; to push to a registry, build into the store and push`,
    );
  }
  const tag = spec.tag ?? defaultTag;
  if (!tag) throw invalidArgument(`--output ${output} has no :TAG and there is no -t to take it from`);
  return { kind: spec.kind, path: spec.path, tag };
}

async function writeDestination(
  oci: Oci,
  dest: Destination,
  image: BuiltImage,
  name?: string,
): Promise<string> {
  const { resolve } = await import("node:path");
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
async function store(
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

async function readModule(path: string): Promise<Buffer> {
  const { readFile } = await import("node:fs/promises");
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw notFound(`module ${path} does not exist; give the path of a .wasm file`);
    if (code === "EISDIR")
      throw invalidArgument(`module ${path} is a directory; give the path of a .wasm file`);
    throw err;
  }
}

/** The human summary on stdout: aligned `key: value` lines. */
export async function buildSummary(r: BuildResult): Promise<string> {
  const { formatPlatform } = await import("../oci/index.js");
  const rows: [string, string][] = [];
  if (r.ref) rows.push(["name", r.ref]);
  rows.push(["digest", r.digest], ["format", `${r.format} (${r.mediaType}, ${formatBytes(r.size)})`]);
  if (r.platform) rows.push(["platform", formatPlatform(r.platform)]);
  if (r.platforms) rows.push(["platforms", r.platforms.map((p) => (p ? formatPlatform(p) : "-")).join(", ")]);
  if (r.module) rows.push(["module", `${r.module.digest} ${formatBytes(r.module.size)} (${r.module.kind})`]);
  rows.push(["output", r.output]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join("");
}
