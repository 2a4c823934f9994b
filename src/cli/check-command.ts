/**
 * `nodewasi check [--repair] [--json]`: verify the whole content store, as `git fsck` and `podman system check`
 * do (src/oci/pull/store-check.ts): index.json, leftovers of killed processes, every blob and module against its
 * digest, the pull records and their rootfs, and what every name reaches. It reports; `--repair` repairs what
 * the store can rebuild by itself and lists the images that need a pull.
 */
import type { Command } from "commander";
import type { CheckProblem, CheckReport } from "../oci/index.js";
import { type CliState, contextFor } from "./context.js";
import { formatBytes, plural } from "./format.js";
import { openStore } from "./open-store.js";

interface CheckFlags {
  repair?: boolean;
  json?: boolean;
}

/** Registers `check` on `parent`. */
export function checkCommand(parent: Command, state: CliState): Command {
  return parent
    .command("check")
    .description("verify the content store (every blob and module against its digest, index.json, leftovers)")
    .option(
      "--repair",
      "repair what is found: rebuild index.json, remove damaged content and extract it again",
    )
    .option(
      "--json",
      "print the report as JSON: checked counts, problems (kind, path, problem, fix, repaired)",
    )
    .addHelpText(
      "after",
      `
Reads every blob and module in the store and hashes it, so it takes as long as reading the store once. Without
--repair it only reports. With --repair it rebuilds a damaged index.json (from index.json.bak, then the pull
records), removes what killed processes left, removes damaged blobs and modules (a damaged module with the
rootfs it came from) and extracts those images again from the blobs still stored. An image whose blobs are
gone is listed to be pulled again. Pulls and runs may go on meanwhile.

Exit status: 0 when the store is sound (or every problem was repaired), 6 when problems remain.

Examples:
  $ nodewasi check
  $ nodewasi check --repair
  $ nodewasi --root /var/lib/nodewasi/containerd/k8s.io check --json | jq '.problems[].path'`,
    )
    .action(async (flags: CheckFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const oci = await import("../oci/index.js");
      const store = await openStore(ctx);
      const repair = flags.repair === true;
      const report = await oci.checkStore(store, {
        repair,
        ...(flags.json ? {} : { onProblem: (p: CheckProblem) => ctx.out(`${problemLine(p)}\n`) }),
      });
      if (flags.json) ctx.out(`${JSON.stringify(report, null, 2)}\n`);
      else ctx.out(`${summary(report, repair)}\n`);
      const failure = oci.checkFailure(ctx.root, report, repair);
      if (failure) throw failure;
    });
}

/** `module   /r/modules/sha256/ab...: its bytes hash to sha256:...; repaired: remove it, ...`. */
export function problemLine(p: CheckProblem): string {
  return `${p.kind.padEnd(8)} ${p.path}: ${p.problem}; ${p.repaired ? "repaired" : "to repair"}: ${p.fix}`;
}

function summary(r: CheckReport, repair: boolean): string {
  const c = r.checked;
  const checked = `checked ${plural(c.blobs, "blob")}, ${plural(c.modules, "module")}, ${plural(c.records, "pull record")} and ${plural(c.images, "image")} (${formatBytes(c.bytes)})`;
  if (r.problems.length === 0) return `${checked}: no problems`;
  const repaired = r.problems.filter((p) => p.repaired).length;
  return repair
    ? `${checked}: ${plural(r.problems.length, "problem")}, ${repaired} repaired`
    : `${checked}: ${plural(r.problems.length, "problem")}`;
}
