/**
 * Which manifest of an index is the wasm one (DESIGN decision 11; ../shared/reference/oci-wasm-images.md
 * sections 0.1, 1 and 4). No upstream tool agrees on the wasm platform name, so a ranked list of every value seen
 * in the wild is matched case-insensitively, attestations are skipped, and entries without a platform are judged
 * by their config, as containerd `images.Manifest` does.
 */
import { failedPrecondition, invalidArgument, notFound } from "../../internal/index.js";
import { isIndexType, isManifestType } from "./media-types.js";
import { Annotation, type Descriptor, type ImageConfig, type ImageIndex, type Platform } from "./types.js";

/**
 * Wasm platforms, best first: `wasip1/wasm` (Go's GOOS, runwasi, Spin), `wasi/wasm` (Docker, buildah), the
 * legacy `wasi/wasm32` (Docker tech preview) and reversed `wasm32/wasi`, `linux/wasm` (runwasi issue #722),
 * and `wasip2/wasm` last: a components-only index is then selected and refused by classify.ts with its reason
 * rather than with "no wasm platform".
 */
export const WASM_PLATFORM_PREFERENCE: readonly Platform[] = [
  { os: "wasip1", architecture: "wasm" },
  { os: "wasi", architecture: "wasm" },
  { os: "wasi", architecture: "wasm32" },
  { os: "wasm32", architecture: "wasi" },
  { os: "linux", architecture: "wasm" },
  { os: "wasip2", architecture: "wasm" },
];

/** How many levels of nested indexes are followed before giving up (a loop guard; real images use one). */
export const MAX_INDEX_DEPTH = 4;

/**
 * Parses `os/arch[/variant]`, lowercased as containerd's `normalizeOS`/`normalizeArch` do (no other
 * normalisation: `wasm32` stays `wasm32`). Throws `InvalidArgument` for anything else.
 */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw invalidArgument(`invalid platform ${JSON.stringify(s)}: want os/arch[/variant], e.g. wasi/wasm`);
  }
  const [os, architecture, variant] = parts.map((p) => p.toLowerCase()) as [string, string, string?];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** `os/arch[/variant]`, the form `--platform` takes and error messages show. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** Position in `WASM_PLATFORM_PREFERENCE` (0 is best), or -1 for a platform that is not wasm. */
export function wasmPlatformRank(p: Platform): number {
  const os = p.os.toLowerCase();
  const arch = p.architecture.toLowerCase();
  return WASM_PLATFORM_PREFERENCE.findIndex((w) => w.os === os && w.architecture === arch);
}

/** Whether a platform is one of the wasm platforms (variant and os.version are ignored: no tool sets them). */
export function isWasmPlatform(p: Platform): boolean {
  return wasmPlatformRank(p) >= 0;
}

/**
 * Whether `have` satisfies an explicit `--platform`: os and arch equal ignoring case, and variant equal when
 * `want` names one (go-containerregistry `Satisfies`: an empty wanted field is a wildcard).
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  const eq = (a: string | undefined, b: string | undefined) =>
    (a ?? "").toLowerCase() === (b ?? "").toLowerCase();
  return (
    eq(want.os, have.os) &&
    eq(want.architecture, have.architecture) &&
    (!want.variant || eq(want.variant, have.variant))
  );
}

/**
 * Whether an index entry is a buildx attestation (platform `unknown/unknown` or annotation
 * `vnd.docker.reference.type: attestation-manifest`, moby/buildkit `util/attestation`), never an image.
 */
export function isAttestation(desc: Descriptor): boolean {
  if (desc.annotations?.[Annotation.DockerReferenceType] === "attestation-manifest") return true;
  return desc.platform?.os === "unknown" && desc.platform.architecture === "unknown";
}

/** The platform an image config declares, or undefined when it names no os and architecture. */
export function configPlatform(config: ImageConfig): Platform | undefined {
  if (!config.os || !config.architecture) return undefined;
  const p: Platform = { os: config.os, architecture: config.architecture };
  if (config.variant) p.variant = config.variant;
  if (config["os.version"]) p["os.version"] = config["os.version"];
  return p;
}

export interface SelectOptions {
  /** The image's name for messages: `127.0.0.1:5000/x:latest`. */
  name: string;
  /** `--platform`: when set, the first entry that matches it exactly wins, wasm or not. */
  platform?: Platform;
  /** Fetches a nested index (verified by the caller). */
  fetchIndex(desc: Descriptor): Promise<ImageIndex>;
  /** Reads an entry's config to learn its platform; undefined when the config says none. */
  fetchPlatformFromConfig(desc: Descriptor): Promise<Platform | undefined>;
}

export interface Selection {
  descriptor: Descriptor;
  platform: Platform;
  /** Nested index descriptors followed to reach `descriptor`, outermost first (empty for a flat index). */
  via: Descriptor[];
}

/**
 * Picks the manifest to run from an index. Entries are visited depth-first in order, nested indexes and
 * configs are fetched only when reached, and the walk stops at the first entry that nothing later can beat (an
 * exact `--platform` match, or `wasip1/wasm`). Among equally ranked entries the first wins (image-index.md:
 * "the first matching entry SHOULD be used"). Fails `NotFound` listing every platform the index offers.
 */
/** Index entries, all levels together, one pull looks at before giving up. */
export const MAX_INDEX_ENTRIES = 10_000;

export async function selectManifest(index: ImageIndex, opts: SelectOptions): Promise<Selection> {
  const offered: string[] = [];
  let best: (Selection & { rank: number }) | undefined;
  const want = opts.platform;

  // Each digest is looked at once: a hostile index listing one nested index thousands of times, at every
  // level, would otherwise cost entries^depth fetches. `visits` bounds the work of a pull whatever the shape.
  const seen = new Set<string>();
  let visits = 0;
  const visit = async (idx: ImageIndex, via: Descriptor[]): Promise<boolean> => {
    for (const desc of idx.manifests) {
      if (++visits > MAX_INDEX_ENTRIES) {
        throw failedPrecondition(
          `image ${opts.name}: its indexes list more than ${MAX_INDEX_ENTRIES} entries in all; refusing to walk them`,
        );
      }
      if (isAttestation(desc) || seen.has(desc.digest)) continue;
      seen.add(desc.digest);
      if (isIndexType(desc.mediaType)) {
        if (via.length + 1 > MAX_INDEX_DEPTH) {
          throw failedPrecondition(
            `image ${opts.name}: indexes nested more than ${MAX_INDEX_DEPTH} deep (at ${desc.digest}); ` +
              "refusing what looks like a loop; re-push the image with a flat index",
          );
        }
        if (await visit(await opts.fetchIndex(desc), [...via, desc])) return true;
        continue;
      }
      // image-spec: an entry of an unknown media type MUST NOT be an error; it is just not an image.
      if (!isManifestType(desc.mediaType)) continue;
      const platform = desc.platform ?? (await opts.fetchPlatformFromConfig(desc));
      offered.push(platform ? formatPlatform(platform) : "(no platform)");
      if (!platform) continue;
      const rank = want ? (platformMatches(want, platform) ? 0 : -1) : wasmPlatformRank(platform);
      if (rank < 0 || (best && best.rank <= rank)) continue;
      best = { descriptor: desc, platform, via, rank };
      if (rank === 0) return true;
    }
    return false;
  };
  await visit(index, []);

  if (best) return { descriptor: best.descriptor, platform: best.platform, via: best.via };
  const offers = offered.length
    ? `the index offers ${[...new Set(offered)].join(", ")}`
    : "the index lists no images";
  const what = want ? `no ${formatPlatform(want)} manifest` : "no wasm platform";
  const hint = want ? "try another --platform or none" : "try --platform";
  throw notFound(`${what} in ${opts.name}; ${offers}; ${hint}`, {
    details: { offered: [...new Set(offered)] },
  });
}
