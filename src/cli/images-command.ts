/**
 * `nodewasi images`: the images in the content store, as a table (NAME, DIGEST, PLATFORM, FORMAT, MODULE
 * SIZE), as names only (`--quiet`), or as JSON (`--json`: one object per image with full digests and exact
 * sizes).
 */
import type { Command } from "commander";
import { type CliState, contextFor } from "./context.js";
import { formatBytes, formatTable, shortDigest } from "./format.js";
import { openStore } from "./open-store.js";

interface ImagesFlags {
  json?: boolean;
  quiet?: boolean;
}

/** Registers `images` on `parent`. */
export function imagesCommand(parent: Command, state: CliState): Command {
  return parent
    .command("images")
    .alias("ls")
    .description("list the images in the content store")
    .option("--json", "print a JSON array: name, digest, platform, format, module digest, size and path")
    .option("-q, --quiet", "print only the names")
    .addHelpText(
      "after",
      `
DIGEST is what the name resolves to (an index or a manifest), shortened; MODULE SIZE is the extracted module.
An image whose pull never finished shows "-" in the columns its pull would have filled.

Examples:
  $ nodewasi images
  $ nodewasi images -q
  $ nodewasi images --json | jq -r '.[] | select(.format == "artifact") | .name'
  $ NODEWASI_ROOT=/tmp/store nodewasi images`,
    )
    .action(async (flags: ImagesFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const oci = await import("../oci/index.js");
      const { listImages } = await import("./image-record.js");
      const store = await openStore(ctx);
      const images = await listImages(store);
      if (flags.json) {
        const rows = images.map((i) => ({
          name: i.name,
          digest: i.descriptor.digest,
          mediaType: i.descriptor.mediaType,
          platform: i.pulled ? oci.formatPlatform(i.pulled.platform) : null,
          format: i.pulled?.format ?? null,
          manifest: i.pulled?.manifest.digest ?? null,
          module: i.pulled
            ? { digest: i.pulled.module.digest, size: i.pulled.module.size, kind: i.pulled.module.kind }
            : null,
        }));
        ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (flags.quiet) {
        ctx.out(images.map((i) => `${i.name}\n`).join(""));
        return;
      }
      const rows = images.map((i) => [
        i.name,
        shortDigest(i.descriptor.digest),
        i.pulled ? oci.formatPlatform(i.pulled.platform) : "-",
        i.pulled?.format ?? "-",
        i.pulled ? formatBytes(i.pulled.module.size) : "-",
      ]);
      ctx.out(formatTable(["NAME", "DIGEST", "PLATFORM", "FORMAT", "MODULE SIZE"], rows));
    });
}
