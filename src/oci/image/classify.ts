/**
 * Where the module of an image is (DESIGN decision 12; ../shared/reference/oci-wasm-images.md section 2,
 * table (a)..(g)). Eight packaging conventions exist in the wild; this decides from the manifest, its media
 * type and the parsed config alone, before any layer is fetched, and refuses what nodewasi cannot run (Spin
 * applications, preview 2 components, non-wasm images) with the reason instead of a confusing failure later.
 */
import { posix } from "node:path";
import { failedPrecondition } from "../../internal/index.js";
import { MediaType, RAW_WASM_LAYER_TYPES, tarLayerCompression } from "./media-types.js";
import { configPlatform, formatPlatform, isWasmPlatform } from "./platform.js";
import { Annotation, type Descriptor, type ImageConfig, type ImageManifest } from "./types.js";

/**
 * `image`/`docker`: tar layers, module = Entrypoint[0] or Cmd[0] (a); `compat`: solo-io/crun compat variant
 * (a'); `runwasi`: raw runwasi layer types in an image (a''); `runwasi-legacy`: 2023 runwasi layer types (d);
 * `wasm-to-oci`: engineerd's format (b); `artifact`: CNCF Wasm OCI Artifact (c); `oras`: ad hoc pushes (g).
 */
export type WasmFormat =
  | "image"
  | "docker"
  | "compat"
  | "runwasi"
  | "runwasi-legacy"
  | "wasm-to-oci"
  | "artifact"
  | "oras";

export interface ModuleLocation {
  format: WasmFormat;
  /** One line for humans: what kind of image this is and where its module is. */
  description: string;
  /**
   * A raw layer whose bytes are the module (the puller checks `\0asm`: ORAS-style layers are only guesses), or
   * an absolute path inside the rootfs that `tarLayers` unpack to.
   */
  module: { kind: "layer"; layer: Descriptor } | { kind: "rootfs"; path: string };
  /** Tar layers to unpack into the rootfs, in manifest order (may be empty). */
  tarLayers: Descriptor[];
  /** The guest's argv as runtimes exec it: Entrypoint then Cmd (Cmd alone without an Entrypoint). */
  entrypoint: string[];
  env: string[];
  /** Absolute; `/` when the config names none. */
  workingDir: string;
}

export interface ClassifyOptions {
  /** The manifest was chosen by an explicit `--platform`, so a non-wasm config platform is the user's call. */
  explicitPlatform?: boolean;
}

/** Config media types whose JSON the puller parses (`parseImageConfig`) before classifying. */
const JSON_CONFIG_TYPES: readonly string[] = [
  MediaType.OciConfig,
  MediaType.DockerConfig,
  MediaType.WasmConfigV0,
  MediaType.WasmToOciConfig,
  MediaType.OciEmpty,
];
const IMAGE_CONFIG_TYPES: readonly string[] = [MediaType.OciConfig, MediaType.DockerConfig];
const SPIN_LAYER_TYPES: readonly string[] = [
  MediaType.SpinApplication,
  MediaType.SpinData,
  MediaType.SpinArchive,
];
const SPIN_LOCK_LABEL = "com.fermyon.spin.lockedAppDigest";

/**
 * Whether a config of this media type should be fetched and parsed: image configs and the wasm artifact
 * configs. Other configs (Spin's locked app, ORAS's unknown types) are not read; the manifest decides.
 */
export function configIsJson(mediaType: string): boolean {
  return JSON_CONFIG_TYPES.includes(mediaType);
}

/**
 * Finds the module of an image, or throws `FailedPrecondition` saying why there is none that nodewasi runs.
 * `config` is undefined when `configIsJson` said not to parse it; `name` names the image in messages.
 */
export function classifyImage(
  manifest: ImageManifest,
  manifestMediaType: string,
  config: ImageConfig | undefined,
  name: string,
  opts: ClassifyOptions = {},
): ModuleLocation {
  refuseUnrunnable(manifest, config, name);
  const run = config?.config;
  const argv = run?.Entrypoint?.length ? [...run.Entrypoint, ...(run.Cmd ?? [])] : [...(run?.Cmd ?? [])];
  const workingDir = posix.resolve("/", run?.WorkingDir || "/");
  const base = { env: [...(run?.Env ?? [])], workingDir, tarLayers: manifest.layers.filter(isTarLayer) };
  const layer = (format: WasmFormat, what: string, l: Descriptor): ModuleLocation => ({
    ...base,
    format,
    description: `${what}, module in layer ${l.digest.slice(0, 19)}${titleOf(l) ? ` (${titleOf(l)})` : ""}`,
    module: { kind: "layer", layer: l },
    entrypoint: argv.length ? argv : [`/${titleOf(l) ?? "module.wasm"}`],
  });
  const configType = manifest.config.mediaType;

  if (configType === MediaType.WasmConfigV0) {
    const first = manifest.layers[0];
    if (manifest.layers.length !== 1 || !first || !RAW_WASM_LAYER_TYPES.includes(first.mediaType)) {
      const types = layerTypes(manifest.layers);
      throw failedPrecondition(
        `image ${name} is a CNCF Wasm OCI artifact with layers [${types}]; the v0 spec requires exactly one ` +
          `${MediaType.Wasm} layer and says consumers reject anything else; re-push it with one module layer`,
      );
    }
    return layer("artifact", `CNCF Wasm OCI artifact (${describePlatform(config)})`, first);
  }

  const raw = manifest.layers.filter((l) => RAW_WASM_LAYER_TYPES.includes(l.mediaType));
  if (raw.length) {
    const pick = chooseLayer(raw, argv[0]);
    const imageConfig = IMAGE_CONFIG_TYPES.includes(configType);
    switch (pick.mediaType) {
      case MediaType.RunwasiLayer:
        return layer("runwasi", `runwasi wasm-layer image (${describePlatform(config)})`, pick);
      case MediaType.W3cWasmModule:
      case MediaType.WasmComponentV1:
        return layer("runwasi-legacy", "runwasi 2023 wasm-layer image", pick);
      case MediaType.WasmContentLayer:
        return layer("wasm-to-oci", "wasm-to-oci image", pick);
      case MediaType.Wasm:
        if (imageConfig)
          return layer("runwasi", `runwasi wasm-layer image (${describePlatform(config)})`, pick);
        return layer("oras", `raw ${pick.mediaType} artifact`, pick);
      default:
        if (configType === MediaType.WasmToOciConfig) return layer("wasm-to-oci", "wasm-to-oci image", pick);
        return layer(
          "oras",
          `raw ${pick.mediaType} artifact (solo-io oci variant or legacy wasmCloud)`,
          pick,
        );
    }
  }

  // ORAS pushes a file with its name as title, often as a plain tar type; a real tar never carries a .wasm title.
  const titled = manifest.layers.filter((l) => {
    const compression = tarLayerCompression(l.mediaType);
    return /\.wasm$/i.test(titleOf(l) ?? "") && compression !== "gzip" && compression !== "zstd";
  });
  if (titled.length && !(IMAGE_CONFIG_TYPES.includes(configType) && argv.length)) {
    const pick = chooseLayer(titled, argv[0]);
    return { ...layer("oras", `ORAS artifact (${configType})`, pick), tarLayers: [] };
  }

  if (base.tarLayers.length) return fromRootfs(manifest, manifestMediaType, config, name, argv, base, opts);
  throw failedPrecondition(
    `image ${name} has no wasm module nodewasi can find: its layers are [${layerTypes(manifest.layers)}] ` +
      `with config ${clip(configType)}; looked for a raw wasm layer (${RAW_WASM_LAYER_TYPES.join(", ")}), tar layers with ` +
      "an Entrypoint or Cmd, or a layer titled *.wasm; rebuild it FROM scratch with the module as ENTRYPOINT",
  );
}

function refuseUnrunnable(manifest: ImageManifest, config: ImageConfig | undefined, name: string): void {
  if (
    manifest.config.mediaType === MediaType.SpinApplication ||
    manifest.layers.some((l) => SPIN_LAYER_TYPES.includes(l.mediaType)) ||
    config?.config?.Labels?.[SPIN_LOCK_LABEL] !== undefined
  ) {
    throw failedPrecondition(
      `image ${name} is a Spin application (multi-component, trigger-driven); run it with Spin: spin up --from ${name}`,
    );
  }
  if (
    config?.os?.toLowerCase() === "wasip2" ||
    (config?.component !== undefined && config.component !== null)
  ) {
    throw failedPrecondition(
      `image ${name} is a WASI preview 2 component; nodewasi runs preview 1 modules (node:wasi); ` +
        "run it with wasmtime, or build the program for wasm32-wasip1",
    );
  }
}

function fromRootfs(
  manifest: ImageManifest,
  manifestMediaType: string,
  config: ImageConfig | undefined,
  name: string,
  argv: string[],
  base: Pick<ModuleLocation, "env" | "workingDir" | "tarLayers">,
  opts: ClassifyOptions,
): ModuleLocation {
  const variant = manifest.annotations?.[Annotation.WasmVariant];
  const compat = variant === "compat" || variant === "compat-smart";
  const platform = config && configPlatform(config);
  if (platform && !isWasmPlatform(platform) && !compat && !opts.explicitPlatform) {
    throw failedPrecondition(
      `image ${name} is a ${formatPlatform(platform)} image, not a wasm one; if it does hold a wasm module, ` +
        `annotate it ${Annotation.WasmVariant}=compat or pull with --platform ${formatPlatform(platform)}`,
    );
  }
  const layers = `${base.tarLayers.length} tar layer${base.tarLayers.length === 1 ? "" : "s"}`;
  const arg0 = argv[0];
  if (arg0 === undefined) {
    // solo-io compat spec (and Istio's fetcher): no entrypoint, the module is plugin.wasm.
    return {
      ...base,
      format: "compat",
      description: `compat-variant image, module /plugin.wasm in ${layers}`,
      module: { kind: "rootfs", path: "/plugin.wasm" },
      entrypoint: ["/plugin.wasm"],
    };
  }
  // runwasi reads args[0] as `path#function`; the file is the part before `#`.
  const path = posix.resolve(base.workingDir, arg0.split("#")[0]!);
  if (variant === "compat-smart" && !/\.(wasm|wat)$/.test(path)) {
    throw failedPrecondition(
      `image ${name} is annotated ${Annotation.WasmVariant}=compat-smart but its entrypoint ${arg0} is not a ` +
        ".wasm file, so crun would not run it as wasm either; set ENTRYPOINT to the module",
    );
  }
  const format: WasmFormat = compat
    ? "compat"
    : manifestMediaType === MediaType.DockerManifest
      ? "docker"
      : "image";
  const kind = compat
    ? `compat-variant image (${variant})`
    : `${format === "docker" ? "Docker" : "OCI"} image (${describePlatform(config)})`;
  return {
    ...base,
    format,
    description: `${kind}, module ${path} in ${layers}`,
    module: { kind: "rootfs", path },
    entrypoint: argv,
  };
}

/**
 * The layers' media types for a message: in order, at most eight, each cut to 80 characters, so a hostile
 * manifest of thousands of layers or megabyte-long types still gives a message a person can read.
 */
function layerTypes(layers: Descriptor[]): string {
  const shown = layers.slice(0, 8).map((l) => clip(l.mediaType));
  if (layers.length > 8) shown.push(`and ${layers.length - 8} more`);
  return shown.join(", ") || "none";
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isTarLayer(l: Descriptor): boolean {
  return tarLayerCompression(l.mediaType) !== undefined;
}

function titleOf(l: Descriptor): string | undefined {
  return l.annotations?.[Annotation.Title];
}

/** The layer whose title is the entrypoint's file name (runwasi names modules so), else the first. */
function chooseLayer(layers: Descriptor[], arg0: string | undefined): Descriptor {
  const want = arg0 === undefined ? undefined : posix.basename(arg0.split("#")[0]!);
  return layers.find((l) => want !== undefined && posix.basename(titleOf(l) ?? "") === want) ?? layers[0]!;
}

function describePlatform(config: ImageConfig | undefined): string {
  const p = config && configPlatform(config);
  return p ? formatPlatform(p) : "no platform";
}
