/**
 * `nodewasi tag SRC DST`: a second name in the local content store for a stored image, as `docker tag` does
 * (same manifest, same digest, nothing copied), so `nodewasi push DST` sends it under the new name.
 */
import type { Command } from "commander";
import { type CliState, contextFor } from "./context.js";

interface TagFlags {
  json?: boolean;
}

/** Registers `tag` on `parent`. */
export function tagCommand(parent: Command, state: CliState): Command {
  return parent
    .command("tag")
    .description("give an image of the local store another name")
    .argument("<src>", "image in the local store, as `nodewasi images` names it")
    .argument("<dst>", "the new name: a registry reference (or an oci: name)")
    .option("--json", "print the new name and its descriptor as JSON")
    .addHelpText(
      "after",
      `
Names are normalised as pull names them (hello -> docker.io/library/hello:latest). An existing DST name is
moved to SRC's image. The new name shares SRC's extracted module, so \`nodewasi run DST\` pulls nothing.

Examples:
  $ nodewasi tag 127.0.0.1:5000/hello:v1 registry.lan:5000/tools/hello:v1
  $ nodewasi tag oci:/work/layout:latest 127.0.0.1:5000/hello:dev && nodewasi push 127.0.0.1:5000/hello:dev
  $ nodewasi tag --json ghcr.io/me/hello:v1 ghcr.io/me/hello:latest`,
    )
    .action(async (src: string, dst: string, flags: TagFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const oci = await import("../oci/index.js");
      oci.sourceName(src);
      oci.sourceName(dst);
      const { name, descriptor } = await oci.tagStoredImage(src, dst, { root: ctx.root });
      if (flags.json)
        ctx.out(`${JSON.stringify({ name, source: oci.sourceName(src), descriptor }, null, 2)}\n`);
      else ctx.out(`${name} -> ${descriptor.digest}\n`);
    });
}
