/**
 * `nodewasi rmi REF...`: remove image names from the store. Each name is handled on its own: a missing one is
 * reported and the rest still go; the exit status is non-zero when any was missing. Content stays until
 * `nodewasi prune` removes what nothing references any more.
 */
import type { Command } from "commander";
import { type CliState, contextFor } from "./context.js";
import { openStore } from "./open-store.js";

/** Registers `rmi` on `parent`. */
export function rmiCommand(parent: Command, state: CliState): Command {
  return (
    parent
      .command("rmi")
      // No `rm` alias: `nodewasi rm ID` removes tasks, as `docker rm` does.
      .description("remove image names from the store (run `nodewasi prune` to free their content)")
      .argument("<ref...>", "image names as pulled or as `nodewasi images` lists them")
      .addHelpText(
        "after",
        `
Prints one "untagged NAME (DIGEST)" line on stdout per name removed. A name that is not in the store is an
error on stderr; the other names are still removed, and the exit status is 3.

Examples:
  $ nodewasi rmi ghcr.io/containerd/runwasi/wasi-demo-app:latest
  $ nodewasi rmi hello oci:./examples/images/hello:latest
  $ nodewasi images -q | xargs nodewasi rmi && nodewasi prune`,
      )
      .action(async (refs: string[], _flags: unknown, cmd: Command) => {
        const ctx = contextFor(cmd, state);
        const { findImage } = await import("./image-record.js");
        const store = await openStore(ctx);
        for (const ref of refs) {
          try {
            const image = await findImage(store, ref);
            await store.untag(image.name);
            ctx.out(`untagged ${image.name} (${image.descriptor.digest})\n`);
          } catch (err) {
            ctx.fail(err);
          }
        }
      })
  );
}
