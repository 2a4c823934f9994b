/**
 * What the store knows about a tagged image, as `images`, `inspect` and `rmi` show it: the name, what it
 * resolves to, and the record the last pull left for the chosen manifest (platform, format, module).
 *
 * A tag points at the top-level digest (often an index) while the pull record is kept per chosen manifest,
 * which the tag names in an annotation (the last pull's choice).
 */
import { notFound } from "../internal/index.js";
import type { ContentStore, Descriptor, PullResult } from "../oci/index.js";
import { sourceName } from "../oci/index.js";

export interface ImageRecord {
  /** The name as stored: `docker.io/library/hello:latest`, `oci:/abs/dir:tag`. */
  name: string;
  /** The descriptor the name points at (index or manifest). */
  descriptor: Descriptor;
  /** The pull record of the chosen manifest, when the store has one. */
  pulled?: PullResult;
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
    const canonical = sourceName(input);
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
  const pulled = await store.pullRecord(descriptor);
  return pulled ? { name, descriptor, pulled } : { name, descriptor };
}
