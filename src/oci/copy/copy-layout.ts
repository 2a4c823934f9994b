/**
 * OCI image layouts as copy destinations: a layout directory (`oci:DIR:TAG`), a tar of one
 * (`oci-archive:FILE:TAG`, written whole when the copy succeeds) and the content store (a layout too, whose
 * names are full references). Blobs go through the same verified, resumable ingest as pull's downloads
 * (fetch-blob.ts), so a layout never holds a blob whose bytes do not match its name.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { digestHex } from "../../internal/index.js";
import { writeLayout } from "../build/index.js";
import type { Descriptor, ImageSource } from "../image/index.js";
import { fetchBlob } from "../pull/index.js";
import type { ContentStore, PullEvent } from "../store/index.js";
import { checkLayout, Ingest, OciLayout } from "../store/index.js";
import type { BlobOutcome, CopyEvent, ImageDestination, PutBlobOptions } from "./copy-types.js";

/** Where blobs are written and how names are recorded. */
interface LayoutTarget {
  name: string;
  layout: OciLayout;
  ingest(desc: Descriptor, signal?: AbortSignal): Promise<Ingest>;
  /** Stores a manifest; `top` also names it in index.json. */
  putManifest(desc: Descriptor, bytes: Buffer, top: boolean): Promise<void>;
  close(ok: boolean): Promise<void>;
}

/** The layout at `dir` (created when missing), the top manifest recorded as `org.opencontainers.image.ref.name` = `tag`. */
export async function layoutDestination(dir: string, tag: string): Promise<ImageDestination> {
  const path = resolve(dir);
  await mkdir(path, { recursive: true });
  const marker = await stat(join(path, "oci-layout")).catch(() => undefined);
  if (marker) await checkLayout(path);
  else await writeLayout(path, []);
  return layoutTargetDestination(await ownIngest(path, `oci:${path}:${tag}`, tag));
}

/**
 * An OCI layout archive at `file` (a plain tar, as `skopeo copy ... oci-archive:FILE:TAG` writes): built in a
 * temporary layout and written to `file` (replacing it) only once every blob and manifest is in.
 */
export async function archiveDestination(file: string, tag: string): Promise<ImageDestination> {
  const path = resolve(file);
  await mkdir(dirname(path), { recursive: true });
  const dir = await mkdtemp(join(dirname(path), ".nodewasi-archive-"));
  await writeLayout(dir, []);
  const target = await ownIngest(dir, `oci-archive:${path}:${tag}`, tag);
  return layoutTargetDestination({
    ...target,
    async close(ok) {
      try {
        await target.close(ok);
        if (ok) await writeArchive(dir, path);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  });
}

/** The content store, the top manifest named `name` (a full reference), as pull names what it stores. */
export function storeDestination(store: ContentStore, name: string): ImageDestination {
  return layoutTargetDestination({
    name,
    layout: store,
    ingest: (desc, signal) => store.ingest(desc, signal),
    async putManifest(desc, bytes, top) {
      await store.writeBlob(bytes);
      if (top) await store.tag(name, desc);
    },
    async close() {},
  });
}

/** A layout's own ingest folder (`.ingest/` inside it, removed at the end) and index.json writer. */
async function ownIngest(dir: string, name: string, tag: string): Promise<LayoutTarget> {
  const layout = await OciLayout.open(dir);
  const ingestDir = join(dir, ".ingest");
  return {
    name,
    layout,
    ingest: (desc, signal) =>
      Ingest.begin(
        desc,
        {
          dir: join(ingestDir, digestHex(desc.digest)),
          blobPath: layout.blobPath(desc.digest),
          has: (d) => layout.has(d),
        },
        signal,
      ),
    async putManifest(desc, bytes, top) {
      if (!(await layout.has(desc))) {
        const path = layout.blobPath(desc.digest);
        const tmp = `${path}.${process.pid}.tmp`;
        await writeFile(tmp, bytes);
        await rename(tmp, path);
      }
      // Children get no entry in index.json: skopeo's layouts name only the top image.
      if (top) await writeLayout(dir, [{ image: { manifest: desc, blobs: new Map() }, tag }]);
    },
    async close() {
      await rm(ingestDir, { recursive: true, force: true });
    },
  };
}

function layoutTargetDestination(target: LayoutTarget): ImageDestination {
  return {
    name: target.name,
    async putBlob(desc: Descriptor, source: ImageSource, o: PutBlobOptions): Promise<BlobOutcome> {
      if (await target.layout.has(desc)) return "exists";
      const forward = (e: PullEvent) => {
        if (e.type === "blob-start" || e.type === "blob-progress" || e.type === "blob-retry")
          o.onEvent(e as CopyEvent);
      };
      await fetchBlob({ ingest: target.ingest }, source, desc, {
        onEvent: forward,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      return "uploaded";
    },
    putManifest: (desc, bytes, top) => target.putManifest(desc, bytes, top),
    close: (ok) => target.close(ok),
  };
}

/** Writes the layout at `dir` as a plain tar at `file`: to a temporary file first, renamed when complete. */
async function writeArchive(dir: string, file: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  // Loaded here, not at import: of the commands that load oci, only a copy to an archive needs it.
  // (Through `default`: a bundle's import() of a CommonJS package has no named exports.)
  const { default: tarStream } = await import("tar-stream");
  const tar = tarStream.pack();
  const written = pipeline(tar, createWriteStream(tmp, { mode: 0o644 }));
  const add = async (name: string) => {
    const full = join(dir, name);
    const st = await stat(full);
    const header = { name, mtime: new Date(0), uid: 0, gid: 0, mode: st.isDirectory() ? 0o755 : 0o644 };
    if (st.isDirectory()) {
      await new Promise<void>((ok, fail) =>
        tar.entry({ ...header, type: "directory" }, (e) => (e ? fail(e) : ok())),
      );
      for (const child of (await readdir(full)).sort()) await add(`${name}/${child}`);
      return;
    }
    await new Promise<void>((ok, fail) => {
      const entry = tar.entry({ ...header, size: st.size }, (e) => (e ? fail(e) : ok()));
      createReadStream(full).on("error", fail).pipe(entry);
    });
  };
  try {
    for (const name of ["oci-layout", "index.json", "blobs"]) await add(name);
    tar.finalize();
    await written;
    await rename(tmp, file);
  } catch (err) {
    tar.destroy();
    await written.catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}
