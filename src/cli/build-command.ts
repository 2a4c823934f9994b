/**
 * `nodewasi build MODULE.wasm -t REF`: package a module as a wasm image in one of the formats wasm runtimes
 * read (oci/build/build.ts), and `nodewasi build --index REF --add A,B`: put images into a multi-platform index.
 * Without `--output` the result goes into the content store, tagged REF, through the same code as a pull
 * (oci/build/build-store.ts), so `images`, `inspect`, `run` and `push` treat it as a pulled image; with
 * `--output oci:DIR[:TAG]` or `oci-archive:FILE[:TAG]` it is written there instead. Builds are reproducible:
 * the same inputs give the same digests unless `--created` says otherwise. With `--push` what was built (from
 * the store, or the layout `--output` wrote) is then pushed to the registry its name designates, exactly as
 * `nodewasi push` would (progress, refusals, hints and exit codes are push's).
 */
import { basename } from "node:path";
import type { Command } from "commander";
import { failedPrecondition, invalidArgument, notFound, ShimError, sha256 } from "../internal/index.js";
import type { BuildImageOptions, BuiltImage, CopyResult } from "../oci/index.js";
import { buildIndexAction } from "./build-index-command.js";
import {
  collect,
  imagePath,
  parseAnnotations,
  parseCreated,
  parseKeyValue,
  readFileOptions,
} from "./build-inputs.js";
import {
  type BuildFlags,
  type BuildResult,
  destination,
  parseName,
  writeDestination,
} from "./build-output.js";
import { type CliContext, type CliState, contextFor } from "./context.js";
import { blobsSummary, copyWithProgress } from "./copy-report.js";
import { formatBytes } from "./format.js";

type Repeatable = "env" | "annotation" | "file" | "add";
/** The flags as commander hands them over: a repeatable option given no time is undefined. */
type GivenFlags = Omit<BuildFlags, Repeatable> & Partial<Pick<BuildFlags, Repeatable>>;

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
    .option("--env <K=V>", "an environment variable of the guest (repeatable)", collect)
    .option("--annotation <K=V>", "a manifest (or index) annotation (repeatable)", collect)
    .option(
      "--file <host:path>",
      "copy a host file or directory into the image's tar layer (repeatable)",
      collect,
    )
    .option("--workdir <dir>", "the guest's working directory")
    .option("--created <time>", "RFC 3339 creation time, or now (default 1970-01-01T00:00:00Z: reproducible)")
    .option("--output <dest>", "write to oci:DIR[:TAG] or oci-archive:FILE[:TAG] instead of the store")
    .option("--index <ref>", "build an index named REF over the --add images instead of packaging a module")
    .option(
      "--add <refs>",
      "images for --index: stored names, oci:DIR:TAG or oci-archive:FILE:TAG (comma-separated, repeatable)",
      collect,
    )
    .option("--attest", "with --index: add a buildx-style attestation entry (unknown/unknown) for each image")
    .option("--push", "then push the image to the registry its name (-t or --index) designates")
    .option("--plain-http", "with --push: talk plain HTTP to the registry (loopback registries always may)")
    .option("-q, --quiet", "print only the digest, and no push progress")
    .option(
      "--json",
      "print the result as JSON: ref, digest, mediaType, size, platform, format, output (and push)",
    )
    .addHelpText(
      "after",
      `
Formats:
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
--push then sends what was built (from the store, or from the --output layout) to the registry named by -t or
--index, as nodewasi push does: same progress on stderr, credentials, refusals and exit codes. With --json
the push's result is the "push" field.

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
  $ nodewasi build app.wasm -t 127.0.0.1:5000/app:v1 --push
  $ nodewasi build app.wasm -t registry.lan:5000/app:v1 --output oci:./layout --push --plain-http
  $ nodewasi build --index app:multi --add app:v1,app:amd64 --attest
  $ nodewasi build --index app:multi --add oci:./linux-layout:v1 --add app:v1 --output oci:./layout
  $ DIGEST=$(nodewasi build -q app.wasm -t app:v1 --output oci:./layout)`,
    )
    .action(async (module: string | undefined, given: GivenFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      // Repeatable options have no default, so --help does not print "(default: [])".
      const flags = {
        ...given,
        env: given.env ?? [],
        annotation: given.annotation ?? [],
        file: given.file ?? [],
        add: given.add ?? [],
      };
      if (flags.plainHttp && !flags.push) throw invalidArgument("--plain-http goes with --push");
      if (flags.push && flags.tag === undefined && flags.index === undefined) {
        throw invalidArgument(
          "--push sends the image to the registry its name designates; name it with -t REGISTRY/REPO:TAG",
        );
      }
      const built =
        flags.index !== undefined
          ? await buildIndexAction(ctx, module, flags, cmd)
          : await buildModule(ctx, module, flags);
      const result = flags.push ? { ...built, push: await pushBuilt(ctx, built, flags) } : built;
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
  if (flags.file.length > 0 && !oci.TAR_LAYER_FORMATS.includes(flags.format)) {
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
  const build: BuildImageOptions = {
    module: bytes,
    format,
    ...(platform ? { platform } : {}),
    ...(path ? { entrypoint: path } : {}),
    ...(env.length ? { env } : {}),
    ...(workingDir !== undefined ? { workingDir } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(files.length ? { files } : {}),
    ...(created ? { created } : {}),
  };
  let image: BuiltImage;
  let output: string;
  let moduleDigest: string;
  if (dest) {
    image = await oci.buildImageAsync(build);
    output = await writeDestination(oci, dest, image, ref?.name);
    moduleDigest = sha256(bytes);
  } else {
    const db = await oci.ContentStore.open(ctx.root);
    const stored = await oci.buildIntoStore(db, build, ref!.name, { logger: ctx.logger });
    image = stored.image;
    output = `store:${ctx.root}`;
    moduleDigest = stored.pulled.module.digest; // the pull hashed the module it extracted: these bytes
  }
  const built = image.manifest.platform!;
  return {
    ...(ref ? { ref: ref.name } : {}),
    digest: image.manifest.digest,
    mediaType: image.manifest.mediaType,
    size: image.manifest.size,
    format,
    platform: built,
    output,
    module: { digest: moduleDigest, size: bytes.length, kind: header.kind },
  };
}

/**
 * Pushes what `built` stored or wrote to the registry its name designates: from the store by name, or from the
 * layout `--output` wrote (the store does not have it). The same manifest bytes, so the same digest.
 */
async function pushBuilt(ctx: CliContext, built: BuildResult, flags: BuildFlags): Promise<CopyResult> {
  const [oci, { PUSH_WORDS }] = await Promise.all([import("../oci/index.js"), import("./progress-lines.js")]);
  const ref = built.ref!; // checked before the build: --push needs -t or --index
  const src = built.output.startsWith("store:") ? ref : built.output;
  return copyWithProgress(ctx, flags, `push of ${ref}`, PUSH_WORDS, (opts) =>
    oci.pushImage(src, ref, { ...opts, root: ctx.root }),
  );
}

/**
 * V8 compiles no module larger than 1 GiB (`kV8MaxWasmModuleSize`), so neither nodewasi nor any V8 runtime
 * could run a bigger one: refused before it is read, rather than after reading gigabytes into memory.
 */
const MAX_MODULE_BYTES = 1024 ** 3;

/**
 * The module file's bytes. Only a regular file is read, through the handle that was checked: a FIFO would
 * block the build forever and a device such as /dev/zero would fill memory until the process died.
 */
async function readModule(path: string): Promise<Buffer> {
  const { open } = await import("node:fs/promises");
  const { constants } = await import("node:fs");
  let fh: import("node:fs/promises").FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would block here; it is refused below anyway.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw notFound(`module ${path} does not exist; give the path of a .wasm file`);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory())
      throw invalidArgument(`module ${path} is a directory; give the path of a .wasm file`);
    if (!st.isFile())
      throw invalidArgument(
        `module ${path} is not a regular file (a device, FIFO or socket); give the path of a .wasm file`,
      );
    if (st.size > MAX_MODULE_BYTES)
      throw invalidArgument(
        `module ${path} is ${formatBytes(st.size)}, over the 1 GiB that V8 compiles; no runtime on V8 could run it`,
      );
    return await fh.readFile();
  } finally {
    await fh.close();
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
  if (r.push) rows.push(["pushed", `${r.push.destination}: ${blobsSummary(r.push)}`]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join("");
}
