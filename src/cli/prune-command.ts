/**
 * `nodewasi prune`: remove from the content store every blob, extracted module, rootfs, pull record and stale
 * partial download that no image name references any more, and say how many items went and how much was freed.
 */
import type { Command } from "commander";
import { type CliState, contextFor } from "./context.js";
import { formatBytes, plural } from "./format.js";
import { openStore } from "./open-store.js";

/** Registers `prune` on `parent`. */
export function pruneCommand(parent: Command, state: CliState): Command {
  return parent
    .command("prune")
    .description("remove content that no image name references, and report the space freed")
    .option("--json", 'print {"removed": N, "bytes": N}')
    .addHelpText(
      "after",
      `
Content of images still listed by \`nodewasi images\` is kept; remove names first with \`nodewasi rmi\`.

Examples:
  $ nodewasi prune
  $ nodewasi rmi hello && nodewasi prune --json`,
    )
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const store = await openStore(ctx);
      const result = await store.prune();
      // `removed` counts blobs, modules, rootfs folders, records and partial downloads alike.
      if (flags.json) ctx.out(`${JSON.stringify({ removed: result.removed, bytes: result.bytes })}\n`);
      else ctx.out(`removed ${plural(result.removed, "item")}, freed ${formatBytes(result.bytes)}\n`);
    });
}
