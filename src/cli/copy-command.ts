/**
 * `nodewasi copy SRC DST`: copy an image between any two of a registry, an OCI layout directory and an OCI
 * layout archive, as `skopeo copy --all` does for wasm images. See copy-report.ts for output.
 */
import type { Command } from "commander";
import { type CliState, contextFor } from "./context.js";
import { COPY_OUTPUT_HELP, type CopyFlags, runCopy } from "./copy-report.js";

/** Registers `copy` on `parent`. */
export function copyCommand(parent: Command, state: CliState): Command {
  return parent
    .command("copy")
    .description("copy an image between registries, OCI layouts (oci:) and OCI archives (oci-archive:)")
    .argument("<src>", "registry reference (docker:// optional), oci:DIR[:TAG] or oci-archive:FILE[:TAG]")
    .argument("<dst>", "registry reference, oci:DIR[:TAG] or oci-archive:FILE[:TAG]")
    .option("--plain-http", "talk plain HTTP to registries (loopback registries always may)")
    .option("--chunk-size <size>", "upload every blob in PATCH chunks of this size (bytes, or e.g. 16MiB)")
    .option("-q, --quiet", "print only the copied digest, and no progress")
    .option(
      "--json",
      "print the result as JSON (digest, size, blobs uploaded/existing/mounted), and no progress",
    )
    .addHelpText(
      "after",
      `
The local content store is not involved: use pull and push for it. A layout destination without a tag gets
the source's tag, else latest; a layout is created when missing, an archive is replaced once complete.
${COPY_OUTPUT_HELP}

Examples:
  $ nodewasi copy ghcr.io/containerd/runwasi/wasi-demo-app:latest oci:./demo:latest
  $ nodewasi copy oci:./examples/images/hello:latest 127.0.0.1:5000/hello:v1
  $ nodewasi copy docker://127.0.0.1:5000/hello:v1 oci-archive:./hello.tar:v1
  $ nodewasi copy 127.0.0.1:5000/hello:v1 127.0.0.1:5000/mirror/hello:v1
  $ nodewasi copy --json oci-archive:./hello.tar:v1 registry.lan:5000/hello:v1 --plain-http`,
    )
    .action(async (src: string, dst: string, flags: CopyFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const oci = await import("../oci/index.js");
      oci.sourceName(src);
      oci.sourceName(dst);
      const { COPY_WORDS } = await import("./progress-lines.js");
      await runCopy(ctx, flags, `copy of ${src} to ${dst}`, COPY_WORDS, (opts) =>
        oci.copyByName(src, dst, opts),
      );
    });
}
