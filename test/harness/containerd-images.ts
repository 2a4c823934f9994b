/**
 * Example modules as wasm images containerd can import (`ctr image import --base-name B --all-platforms`): an
 * OCI archive with one `wasip1/wasm` image per tag, the module in a plain tar layer at `/<name>.wasm` as its
 * entrypoint (the layout containerd 1.6.20 can unpack: reference containerd-shim-protocol.md §7).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, writeLayoutArchive } from "../../src/oci/index.js";
import { type PrivateContainerd, REPO_DIR, startContainerd } from "./containerd.js";

/** Writes `<dir>/images.tar` with tag -> module (a path under the repository, e.g. examples/hello/hello.wasm). */
export async function moduleImagesArchive(dir: string, modules: Record<string, string>): Promise<string> {
  const archive = join(dir, "images.tar");
  await writeLayoutArchive(
    archive,
    Object.entries(modules).map(([tag, file]) => ({
      image: buildImage({
        module: readFileSync(join(REPO_DIR, file)),
        format: "image",
        platform: { architecture: "wasm", os: "wasip1" },
        entrypoint: `/${file.slice(file.lastIndexOf("/") + 1)}`,
        compression: "none",
      }),
      tag,
    })),
  );
  return archive;
}

/**
 * Imports moduleImagesArchive(dir, modules) into `ctd` as images `<base>:<tag>` (`ctr image import --base-name
 * BASE --all-platforms`); throws with ctr's output and containerd's log tail when the import fails.
 */
export async function importModuleImages(
  ctd: PrivateContainerd,
  dir: string,
  base: string,
  modules: Record<string, string>,
): Promise<void> {
  const archive = await moduleImagesArchive(dir, modules);
  const r = await ctd.ctr(["image", "import", "--base-name", base, "--all-platforms", archive]);
  if (r.code !== 0) {
    throw new Error(`ctr image import failed (${r.code}): ${r.stdout}${r.stderr}\n${ctd.log().slice(-3000)}`);
  }
}

/**
 * A suite's private containerd with `modules` imported as `<base>:<tag>` (importModuleImages), and a temp folder
 * `nodewasi-ctd-<name>-*` for the suite's files. What a failed start had made is removed before it throws; the
 * suite's `after` ends both with stopContainerdAndTemp.
 */
export async function containerdWithModuleImages(
  name: string,
  base: string,
  modules: Record<string, string>,
): Promise<{ ctd: PrivateContainerd; tmp: string }> {
  const tmp = mkdtempSync(join(tmpdir(), `nodewasi-ctd-${name}-`));
  let ctd: PrivateContainerd | undefined;
  try {
    ctd = await startContainerd();
    await importModuleImages(ctd, tmp, base, modules);
    return { ctd, tmp };
  } catch (err) {
    await stopContainerdAndTemp(ctd, tmp);
    throw err;
  }
}

/** Stops `ctd` (its shims and mounts too) and removes `tmp`; either may be missing (a suite that did not start). */
export async function stopContainerdAndTemp(ctd: PrivateContainerd | undefined, tmp: string | undefined) {
  await ctd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
