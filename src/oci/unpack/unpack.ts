/**
 * Unpacks one tar layer into a rootfs, safely against hostile input (DESIGN decisions 12 and 13). Layers are
 * applied in order onto the same directory; OCI whiteouts (image-spec layer.md: `.wh.NAME`, `.wh..wh..opq`)
 * remove what lower layers put there. Nothing is ever written outside `rootfs`: names are checked as data,
 * parents with `lstat` (never followed), files are created with `O_EXCL | O_NOFOLLOW`, and links are checked
 * against where they point. Ownership is not applied (a rootless puller cannot, and a wasm guest has no use for
 * it); permission bits are kept without setuid, setgid and sticky.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { chmod, link, mkdir, open, readdir, realpath, rm, symlink, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ExtractEvents } from "tar-stream";
import { Code, type Digest, invalidArgument, lstatOrUndefined, ShimError } from "../../internal/index.js";
import type { LayerCompression } from "../image/index.js";
import { BatchWriter } from "../store/index.js";
import { decompressionStages } from "./decompress.js";
import { DEFAULT_UNPACK_LIMITS, EntryBudget, InflationGuard, type UnpackLimits } from "./unpack-limits.js";
import {
  ensureParents,
  escapingSymlink,
  forgetDirs,
  parseEntryPath,
  refusal,
  symlinkTargetError,
} from "./unpack-path.js";
import { LayerScan } from "./unpack-scan.js";
import type { ZstdDecoder } from "./zstd-decoders.js";

/** Options of `unpackLayer`; limits not given keep their defaults (`DEFAULT_UNPACK_LIMITS`). */
export interface UnpackOptions {
  limits?: Partial<UnpackLimits>;
  /**
   * What the lower layers of the same rootfs hold already: the entry and byte limits are for the whole rootfs,
   * so that many layers each under them cannot add up to an unbounded unpack (DESIGN decision 13).
   */
  spent?: { entries: number; bytes: number };
  signal?: AbortSignal;
  /** How the layer is named in errors, e.g. `layer sha256:... of ghcr.io/x:1`; default "layer". */
  name?: string;
  /** The zstd decoder (default: the fastest this process has, zstd-decoders.ts); tests try each. */
  zstd?: ZstdDecoder;
  /**
   * Files to hash while they are written, by rootfs-relative path (`app/main.wasm`). Shared across the layers
   * of one rootfs: a regular file written at such a path sets its entry; anything else done to the path (a
   * link, a directory, a whiteout of it or of a parent) deletes the entry. What remains after the last layer
   * is the digest of the file at that path, so the puller need not read the module again.
   */
  digests?: Map<string, FileDigest>;
}

export interface FileDigest {
  digest: Digest;
  size: number;
}

/** What a layer contributed. */
export interface UnpackResult {
  /** Tar entries applied (whiteouts included). */
  entries: number;
  /** Bytes of regular file content written. */
  bytes: number;
}

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";
/** One tar entry as tar-stream 3 hands it over: a streamx readable with its header. */
type Entry = ExtractEvents["entry"][1];
/** Permission bits kept: rwx for user, group, other; never setuid (04000), setgid (02000) or sticky (01000). */
const PERM = 0o777;
/** The digest entry of a path whose content is no longer known (a link, a directory, removed...). */
export const UNKNOWN: FileDigest = Object.freeze({ digest: "sha256:unknown" as Digest, size: -1 });

/**
 * Reads a tar layer from `stream` (compressed as `compression`) and applies it onto `rootfs`, which is created
 * if missing. Any refused entry fails the whole layer with `InvalidArgument` naming the layer, the entry and
 * the reason; entries applied before it stay (the caller discards the rootfs of a failed pull). A layer over
 * the entry or size limits is refused by a look-ahead scan (unpack-scan.ts) before its entries are written.
 */
export async function unpackLayer(
  stream: Readable,
  compression: LayerCompression,
  rootfs: string,
  opts: UnpackOptions = {},
): Promise<UnpackResult> {
  const limits: UnpackLimits = { ...DEFAULT_UNPACK_LIMITS, ...opts.limits };
  const layer = opts.name ?? "layer";
  await mkdir(rootfs, { recursive: true, mode: 0o755 });
  const root = await realpath(rootfs);
  const guard = new InflationGuard(limits, layer, compression !== "none");
  const spent = opts.spent ?? { entries: 0, bytes: 0 };
  // Loaded here, not at import: a command that unpacks nothing (a pull of a stored image) does not pay for it.
  const { default: tar } = await import("tar-stream");
  const extract = tar.extract();
  const scan = new LayerScan(tar.extract(), compression, limits, layer, spent, opts.zstd, (f) => {
    // The applier stops where it is: awaiting an entry, or writing one (its content stream fails).
    extract.destroy(f.error instanceof Error ? f.error : new Error(String(f.error)));
  });
  const piping = pipeline(
    [stream, scan.tap(), ...decompressionStages(compression, guard, layer, opts.zstd), extract],
    opts.signal ? { signal: opts.signal } : {},
  );
  // Errors surface through the iterator below; this keeps an early failure from being unhandled.
  piping.catch(() => {});
  const budget = new EntryBudget(limits, layer);
  budget.entries = spent.entries;
  budget.bytes = spent.bytes;
  const applier = new LayerApplier(root, layer, limits, budget, opts.digests ?? new Map());
  try {
    for await (const entry of extract) {
      try {
        await applier.apply(entry);
      } finally {
        entry.resume();
      }
    }
    await piping;
    if (applier.symlinks > 0) {
      const escaping = await escapingSymlink(root);
      if (escaping)
        throw refusal(
          layer,
          escaping,
          "the symlink loops, or leads outside the rootfs through another symlink",
        );
    }
  } catch (err) {
    scan.stop();
    stream.destroy();
    extract.destroy();
    const piped = await piping.then(
      () => undefined,
      (e: unknown) => e,
    );
    // The scan failed first: its reason, at the entry it had reached (the applier only saw a destroyed stream).
    if (scan.failure && !opts.signal?.aborted)
      throw wordError(scan.failure.error, layer, scan.failure.entry, root, compression);
    // An entry's stream only says "destroyed"; the pipeline knows why (truncated tar, corrupt gzip, abort).
    const destroyed = (err as { code?: unknown }).code === "STREAM_DESTROYED";
    throw wordError(
      destroyed && piped !== undefined ? piped : err,
      layer,
      applier.current,
      root,
      compression,
    );
  }
  scan.stop();
  return { entries: applier.entries, bytes: applier.bytes };
}

function wordError(
  err: unknown,
  layer: string,
  entry: string | undefined,
  root: string,
  compression: LayerCompression,
): ShimError {
  if (err instanceof ShimError) return err;
  const e = err as NodeJS.ErrnoException;
  const at = entry === undefined ? "" : ` at entry ${JSON.stringify(entry)}`;
  if (e.code === "ENOSPC" || e.code === "EDQUOT") {
    return new ShimError(
      Code.ResourceExhausted,
      `${layer}: unpacking${at} into ${root}: no space left on its device; free space and pull again (downloaded layers stay in the store)`,
      { cause: err },
    );
  }
  // zlib's codes: Z_DATA_ERROR... from gunzip, ZSTD_error_... (and Z_BUF_ERROR) from its zstd decoder.
  if (typeof e.code === "string" && (e.code.startsWith("Z_") || e.code.startsWith("ZSTD_"))) {
    return invalidArgument(`${layer}: corrupt ${compression} data${at} (${e.message}); pull it again`, {
      cause: err,
    });
  }
  if (e.name === "AbortError") return ShimError.from(err);
  if (e.code === undefined || e.message?.includes("tar")) {
    return invalidArgument(`${layer}: not a valid tar stream${at} (${e.message}); pull it again`, {
      cause: err,
    });
  }
  const w = ShimError.from(err);
  return new ShimError(w.code, `${layer}: unpacking${at} failed: ${w.rawMessage}`, { cause: err });
}

/** Applies entries of one layer in order; remembers what this layer wrote so whiteouts spare it. */
class LayerApplier {
  entries = 0;
  bytes = 0;
  /** Symlinks this layer created: when any, the whole tree's links are resolved once at the end. */
  symlinks = 0;
  current: string | undefined;
  readonly #written = new Set<string>();
  /** Directories this layer checked or made (ensureParents); whatever removes one takes it out. */
  readonly #dirs = new Set<string>();

  constructor(
    readonly root: string,
    readonly layer: string,
    readonly limits: UnpackLimits,
    readonly budget: EntryBudget,
    readonly digests: Map<string, FileDigest>,
  ) {}

  async apply(entry: Entry): Promise<void> {
    const h = entry.header;
    this.current = h.name;
    const refuse = (why: string) => refusal(this.layer, h.name, why);
    this.entries++;
    this.budget.count(h.name, h.type === "file" || h.type === "contiguous-file" ? (h.size ?? 0) : 0);
    const parsed = parseEntryPath(h.name, this.limits);
    if ("error" in parsed) throw refuse(parsed.error);
    const { parts } = parsed;
    if (parts.length === 0) {
      if (h.type === "directory") return; // "./": the rootfs itself
      throw refuse("it names the rootfs itself");
    }
    const base = parts.at(-1)!;
    if (base.startsWith(WHITEOUT)) return this.#whiteout(parts, base, refuse);
    const path = await ensureParents(this.root, parts, refuse, this.#dirs);
    const key = parts.join("/");
    this.#forget(key);
    switch (h.type) {
      case "directory":
        await this.#directory(path, h.mode);
        break;
      case "file":
      case "contiguous-file":
        await this.#file(entry, path, this.digests.has(key) ? key : undefined);
        break;
      case "symlink": {
        const why = symlinkTargetError(parts, h.linkname ?? "");
        if (why) throw refuse(why);
        await this.#clear(path, false);
        await symlink(h.linkname!, path);
        this.symlinks++;
        break;
      }
      case "link":
        await this.#hardlink(path, h.linkname ?? "", refuse);
        break;
      case "character-device":
      case "block-device":
      case "fifo":
        throw refuse(`${h.type} entries are not allowed in a wasm image layer`);
      default:
        throw refuse(`unsupported tar entry type ${JSON.stringify(h.type)}`);
    }
    this.#written.add(key);
  }

  async #directory(path: string, mode: number | undefined): Promise<void> {
    const st = await lstatOrUndefined(path);
    if (st?.isDirectory() !== true) {
      await this.#clear(path, false);
      await mkdir(path, { mode: 0o755 });
    }
    // Owner rwx is kept so later entries can be written into it by a rootless puller.
    await chmod(path, ((mode ?? 0o755) & PERM) | 0o700);
  }

  /** Drops the digests of `key` and of everything below it: they no longer describe what is there. */
  #forget(key: string): void {
    for (const k of this.digests.keys())
      if (k === key || k.startsWith(`${key}/`)) this.digests.set(k, UNKNOWN);
  }

  async #file(entry: Entry, path: string, hashKey?: string): Promise<void> {
    await this.#clear(path, false);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const fh = await open(path, flags, (entry.header.mode ?? 0o644) & PERM & ~0o7000);
    const out = new BatchWriter(fh);
    try {
      const hash = hashKey === undefined ? undefined : createHash("sha256");
      let written = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        this.bytes += chunk.length;
        written += chunk.length;
        hash?.update(chunk);
        await out.write(chunk);
      }
      await out.flush();
      if (hash && hashKey !== undefined)
        this.digests.set(hashKey, { digest: `sha256:${hash.digest("hex")}`, size: written });
      // open() applied the umask; set the bits the layer asked for.
      await fh.chmod((entry.header.mode ?? 0o644) & PERM);
    } finally {
      await out.flush().catch(() => {});
      await fh.close();
    }
  }

  async #hardlink(path: string, linkname: string, refuse: (why: string) => ShimError): Promise<void> {
    const target = parseEntryPath(linkname, this.limits);
    if ("error" in target)
      throw refuse(`the hardlink target ${JSON.stringify(linkname)} is refused: ${target.error}`);
    if (target.parts.length === 0) throw refuse("the hardlink target is the rootfs itself");
    const targetPath = await ensureParents(
      this.root,
      target.parts,
      (why) => refuse(`the hardlink target ${JSON.stringify(linkname)} is refused: ${why}`),
      this.#dirs,
    );
    const st = await lstatOrUndefined(targetPath);
    if (st === undefined) throw refuse(`the hardlink target ${JSON.stringify(linkname)} does not exist`);
    if (st.isSymbolicLink()) throw refuse(`the hardlink target ${JSON.stringify(linkname)} is a symlink`);
    if (!st.isFile()) throw refuse(`the hardlink target ${JSON.stringify(linkname)} is not a regular file`);
    if (targetPath === path) return;
    await this.#clear(path, false);
    await link(targetPath, path);
  }

  /** Removes whatever is at `path` (a whole tree for a directory) unless `keepDir` and it is a directory. */
  async #clear(path: string, keepDir: boolean): Promise<void> {
    const st = await lstatOrUndefined(path);
    if (st === undefined) return;
    if (st.isDirectory()) {
      if (keepDir) return;
      forgetDirs(this.#dirs, path);
      await rm(path, { recursive: true, force: true });
    } else {
      await unlink(path);
    }
  }

  async #whiteout(parts: string[], base: string, refuse: (why: string) => ShimError): Promise<void> {
    const dirParts = parts.slice(0, -1);
    const dir = dirname(await ensureParents(this.root, parts, refuse, this.#dirs));
    if (base === OPAQUE) {
      // Opaque: the directory hides everything from lower layers, but keeps what this layer put there.
      for (const name of await readdir(dir)) {
        const key = [...dirParts, name].join("/");
        if (!this.#written.has(key)) {
          this.#forget(key);
          forgetDirs(this.#dirs, join(dir, name));
          await rm(join(dir, name), { recursive: true, force: true });
        }
      }
      return;
    }
    const victim = base.slice(WHITEOUT.length);
    if (victim === "" || victim === "." || victim === ".." || victim.startsWith(WHITEOUT)) {
      throw refuse("a whiteout must name a file (.wh.NAME)");
    }
    this.#forget([...dirParts, victim].join("/"));
    await this.#clear(join(dir, victim), false);
  }
}
