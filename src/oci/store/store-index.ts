/**
 * The store's `index.json` (its names), kept so that no single damaged file loses them:
 *
 * - it is replaced whole by atomic rename (atomic-write.ts), so nodewasi never leaves it torn;
 * - `index.json.bak`, a second copy, is written just before it, so a damaged index.json (truncated by a disk
 *   or a file system that lost a write, edited by hand, overwritten by another tool) is restored exactly;
 * - every pull also leaves a record (`extracted/<manifest>.json`) naming the image and what its name points
 *   at, so names are rebuilt from the records when both copies are lost.
 *
 * Reading never trusts the file: missing, larger than `MAX_STORE_INDEX_BYTES`, not JSON, or JSON of another
 * shape are all "damaged", with the reason. Store commands then stop with `damagedIndexError` (rather than act
 * on a guess: prune would delete every image a lost name reached), and `nodewasi check --repair` rebuilds it.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Code, type Digest, isDigest, ShimError } from "../../internal/index.js";
import { Annotation, type Descriptor, type ImageIndex, MediaType, parseManifest } from "../image/index.js";

/**
 * The largest index.json a store reads: about 100,000 names. A registry manifest is capped at 4 MiB, but this
 * file grows with every name the store keeps; the size is checked before anything is read.
 */
export const MAX_STORE_INDEX_BYTES = 64 * 1024 * 1024;
export const INDEX_FILE = "index.json";
export const INDEX_BACKUP_FILE = "index.json.bak";

/** An index file as read: its entries, or why it cannot be used. */
export type IndexRead = { index: ImageIndex } | { problem: string; missing?: boolean };

/** Reads and validates an index file. Never throws for what the file holds; only for I/O errors. */
export async function readIndexFile(path: string): Promise<IndexRead> {
  let bytes: Buffer;
  try {
    const st = await stat(path);
    if (!st.isFile()) return { problem: "it is not a regular file" };
    if (st.size > MAX_STORE_INDEX_BYTES) {
      return {
        problem: `it is ${st.size} bytes, over the ${MAX_STORE_INDEX_BYTES}-byte limit of a store index`,
      };
    }
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { problem: "it is missing", missing: true };
    if (code === "EACCES" || code === "EPERM") return { problem: `it cannot be read (${code})` };
    throw err;
  }
  if (bytes.length === 0) return { problem: "it is empty" };
  try {
    const parsed = parseManifest(bytes, undefined, path, MAX_STORE_INDEX_BYTES);
    if (parsed.kind !== "index") return { problem: "it holds an image manifest, not an index" };
    return { index: parsed.index };
  } catch (err) {
    const msg = ShimError.from(err).rawMessage;
    const why = msg.startsWith(`${path}: `)
      ? msg.slice(path.length + 2)
      : msg.startsWith(`${path} `)
        ? `it ${msg.slice(path.length + 1)}`
        : msg;
    return { problem: bytes.at(-1) === 0x0a ? why : `${why} (it looks cut short: no final newline)` };
  }
}

/**
 * The error store commands give when index.json cannot be used: what is wrong, and the command that repairs it
 * (in the message itself: it also reaches the CLI from a shim, over gRPC, which carries no details).
 */
export function damagedIndexError(root: string, problem: string): ShimError {
  return new ShimError(
    Code.DataLoss,
    `the store's list of images ${join(root, INDEX_FILE)} is damaged (${problem}); run \`nodewasi --root ${root} check --repair\` to rebuild it from its backup and the pull records`,
    { details: { path: join(root, INDEX_FILE) } },
  );
}

/** What `rebuildIndex` made, and from what. */
export interface RebuiltIndex {
  index: ImageIndex;
  /** `index.json.bak`, `N pull records`: the sources used, for the report. */
  from: string[];
}

/**
 * Rebuilds the names of a store whose index.json is damaged: the backup's entries when it reads, plus, for
 * every name that a pull record names and the backup lacks, an entry for what that pull tagged (the newest
 * record of a name wins; a record whose top blob is gone is skipped). Names made by `nodewasi tag` survive only
 * in the backup.
 */
export async function rebuildIndex(root: string): Promise<RebuiltIndex> {
  const backup = await readIndexFile(join(root, INDEX_BACKUP_FILE));
  const manifests: Descriptor[] = "index" in backup ? [...backup.index.manifests] : [];
  const from = "index" in backup ? [INDEX_BACKUP_FILE] : [];
  const named = new Set(manifests.map(entryName));
  const newest = new Map<string, { mtimeMs: number; entry: Descriptor }>();
  for (const file of await readdir(join(root, "extracted")).catch(() => [] as string[])) {
    if (!/^[a-f0-9]{64}\.json$/.test(file)) continue;
    const path = join(root, "extracted", file);
    const entry = await recordEntry(root, path).catch(() => undefined);
    if (!entry || named.has(entryName(entry))) continue;
    const { mtimeMs } = await stat(path);
    const name = entryName(entry)!;
    if ((newest.get(name)?.mtimeMs ?? -1) < mtimeMs) newest.set(name, { mtimeMs, entry });
  }
  for (const { entry } of newest.values()) manifests.push(entry);
  if (newest.size) from.push(`${newest.size} pull record${newest.size === 1 ? "" : "s"}`);
  return { index: { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }, from };
}

/** The index.json entry a pull record stands for, when its top blob is in the store. */
async function recordEntry(root: string, path: string): Promise<Descriptor | undefined> {
  const r = JSON.parse(await readFile(path, "utf8")) as {
    name?: unknown;
    digest?: unknown;
    mediaType?: unknown;
    manifest?: { digest?: unknown };
  };
  if (typeof r.name !== "string" || !r.name || typeof r.mediaType !== "string") return undefined;
  if (typeof r.digest !== "string" || !isDigest(r.digest)) return undefined;
  const manifest = r.manifest?.digest;
  if (typeof manifest !== "string" || !isDigest(manifest)) return undefined;
  const blob = await stat(join(root, "blobs", "sha256", r.digest.slice(7)));
  if (!blob.isFile()) return undefined;
  return {
    mediaType: r.mediaType,
    digest: r.digest as Digest,
    size: blob.size,
    annotations: {
      [Annotation.PulledManifest]: manifest,
      [Annotation.ImageName]: r.name,
      [Annotation.RefName]: r.name,
    },
  };
}

/** The name of an index.json entry: the full reference, else the layout ref name (skopeo-written entries). */
export function entryName(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.ImageName] ?? d.annotations?.[Annotation.RefName];
}
