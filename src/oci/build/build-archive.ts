/**
 * Writes built images as an OCI layout archive (`oci-archive:FILE[:TAG]`, skopeo's name): a plain tar of an
 * OCI image layout, with the layout written by `writeLayout` so both outputs agree byte for byte. The tar
 * itself is reproducible (build-tar.ts: fixed times and owners, entries in sorted order).
 */
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTar, type TarEntry } from "./build-tar.js";
import { type LayoutImage, writeLayout } from "./layout-writer.js";

/**
 * Writes `images` as the only content of the archive `file`, replacing it atomically (an archive, unlike a
 * layout directory, is not merged into: skopeo's `oci-archive:` writer also starts afresh).
 */
export async function writeLayoutArchive(file: string, images: readonly LayoutImage[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-archive-"));
  try {
    await writeLayout(dir, images);
    const blobNames = (await readdir(join(dir, "blobs", "sha256"))).sort();
    const entries: TarEntry[] = [
      { path: "blobs/", type: "dir" },
      { path: "blobs/sha256/", type: "dir" },
      ...(await Promise.all(
        blobNames.map(async (n) => ({
          path: `blobs/sha256/${n}`,
          data: await readFile(join(dir, "blobs", "sha256", n)),
        })),
      )),
      { path: "index.json", data: await readFile(join(dir, "index.json")) },
      { path: "oci-layout", data: await readFile(join(dir, "oci-layout")) },
    ];
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, buildTar(entries));
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
