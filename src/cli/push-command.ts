/**
 * `nodewasi push REF` and `nodewasi push SRC DST`: send an image of the local content store (or an `oci:` /
 * `oci-archive:` layout) to a registry with the distribution push flow. See copy-report.ts for output.
 */
import type { Command } from "commander";
import { type CliState, contextFor } from "./context.js";
import { COPY_OUTPUT_HELP, type CopyFlags, runCopy } from "./copy-report.js";

/** Registers `push` on `parent`. */
export function pushCommand(parent: Command, state: CliState): Command {
  return parent
    .command("push")
    .description("send an image from the local store (or an OCI layout) to a registry")
    .argument(
      "<src>",
      "image in the local store (as `nodewasi images` names it), oci:DIR[:TAG] or oci-archive:FILE[:TAG]",
    )
    .argument("[dst]", "registry reference to push to (default: SRC)")
    .option("--plain-http", "talk plain HTTP to the registry (loopback registries always may)")
    .option("--chunk-size <size>", "upload every blob in PATCH chunks of this size (bytes, or e.g. 16MiB)")
    .option("-q, --quiet", "print only the pushed digest, and no progress")
    .option(
      "--json",
      "print the result as JSON (digest, size, blobs uploaded/existing/mounted), and no progress",
    )
    .addHelpText(
      "after",
      `
Credentials come from ~/.docker/config.json (docker login), as for pull. Blobs above 96 MiB go in 32 MiB
PATCH chunks; --chunk-size sends every blob in chunks of that size. A registry that stops taking an upload
or answering for longer than the global --registry-timeout (default 30s) gets one more upload session, then
the push exits 5 naming the host.
${COPY_OUTPUT_HELP}

Examples:
  $ nodewasi push 127.0.0.1:5000/hello:v1
  $ nodewasi push 127.0.0.1:5000/hello:v1 registry.lan:5000/tools/hello:v1 --plain-http
  $ nodewasi push oci:./examples/images/hello:latest ghcr.io/me/hello:v1
  $ nodewasi push --json ghcr.io/me/hello:v1 | jq -r .digest
  $ nodewasi --registry-timeout 2m push ghcr.io/me/hello:v1
  $ DIGEST=$(nodewasi push -q ghcr.io/me/hello:v1)`,
    )
    .action(async (src: string, dst: string | undefined, flags: CopyFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const oci = await import("../oci/index.js");
      // Names are checked before any network access, so a typo is a usage error (exit 2).
      oci.sourceName(src);
      const target = oci.parseSourceSpec(dst ?? src);
      if (target.kind !== "registry") {
        throw oci.invalidPushTarget(dst ?? src);
      }
      const { PUSH_WORDS } = await import("./progress-lines.js");
      await runCopy(ctx, flags, `push of ${src}`, PUSH_WORDS, (opts) =>
        oci.pushImage(src, dst ?? src, { ...opts, root: ctx.root }),
      );
    });
}
