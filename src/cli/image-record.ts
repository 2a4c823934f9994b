/**
 * What the store knows about a tagged image, as `images`, `inspect` and `rmi` show it: the name, what it
 * resolves to, and the record the last pull left for the chosen manifest (platform, format, module).
 *
 * A tag points at the top-level digest (often an index) while the pull record is kept per chosen manifest, so
 * for an index the children that were pulled are looked up; the best ranked wasm platform wins when more than
 * one was (`pull --platform` of another entry).
 */
import { resolve as resolvePath } from "node:path";
import { notFound } from "../internal/index.js";
import {
  type ContentStore,
  type Descriptor,
  formatReference,
  formatSourceSpec,
  MAX_INDEX_DEPTH,
  type PullResult,
  parseManifest,
  parseSourceSpec,
  wasmPlatformRank,
} from "../oci/index.js";

export interface ImageRecord {
  /** The name as stored: `docker.io/library/hello:latest`, `oci:/abs/dir:tag`. */
  name: string;
  /** The descriptor the name points at (index or manifest). */
  descriptor: Descriptor;
  /** The pull record of the chosen manifest, when the store has one. */
  pulled?: PullResult;
}

/**
 * The name the store would keep `input` under, as pull's `openSource` names it: a registry reference is
 * normalised (`hello` -> `docker.io/library/hello:latest`), an `oci:` path made absolute. Throws
 * `InvalidArgument` for something that is neither.
 */
export function canonicalName(input: string): string {
  const spec = parseSourceSpec(input);
  if (spec.kind === "registry") return formatReference(spec.ref);
  return formatSourceSpec({ ...spec, path: resolvePath(spec.path) });
}

/** Every tagged image with its pull record, sorted by name. */
export async function listImages(store: ContentStore): Promise<ImageRecord[]> {
  const images = await store.images();
  const records = await Promise.all(images.map((i) => withRecord(store, i.name, i.descriptor)));
  return records.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The image `input` names, looked up as typed and then by its canonical name. Throws `NotFound` saying how to
 * get it (`nodewasi pull REF`).
 */
export async function findImage(store: ContentStore, input: string): Promise<ImageRecord> {
  const names = [input];
  let invalid: unknown;
  try {
    const canonical = canonicalName(input);
    if (canonical !== input) names.push(canonical);
  } catch (err) {
    // Not a valid reference: it can still be a name stored as is; if not, the parse error is the answer.
    invalid = err;
  }
  for (const name of names) {
    const descriptor = await store.resolve(name);
    if (descriptor) return withRecord(store, name, descriptor);
  }
  if (invalid) throw invalid;
  throw notFound(`${input} is not in the store; run \`nodewasi pull ${input}\``, {
    details: { reference: input },
  });
}

async function withRecord(store: ContentStore, name: string, descriptor: Descriptor): Promise<ImageRecord> {
  const pulled = await findPullRecord(store, descriptor, 0);
  return pulled ? { name, descriptor, pulled } : { name, descriptor };
}

/** The record for `desc` itself, else for the best pulled child of the index it is. */
async function findPullRecord(
  store: ContentStore,
  desc: Descriptor,
  depth: number,
): Promise<PullResult | undefined> {
  const own = (await store.extraction(desc.digest)) as PullResult | undefined;
  if (own?.module?.digest) return own;
  if (depth >= MAX_INDEX_DEPTH) return undefined;
  let parsed: ReturnType<typeof parseManifest>;
  try {
    parsed = parseManifest(await store.readBlob(desc), desc.mediaType, desc.digest);
  } catch {
    // The blob is gone (pruned) or unreadable: the image has no usable record.
    return undefined;
  }
  if (parsed.kind !== "index") return undefined;
  const found: PullResult[] = [];
  for (const child of parsed.index.manifests) {
    const r = await findPullRecord(store, child, depth + 1);
    if (r) found.push(r);
  }
  const rank = (r: PullResult) => {
    const n = wasmPlatformRank(r.platform);
    return n < 0 ? Number.MAX_SAFE_INTEGER : n;
  };
  return found.sort((a, b) => rank(a) - rank(b))[0];
}
