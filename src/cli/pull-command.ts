/**
 * `nodewasi pull REF`: fetch a wasm image into the content store and extract its module. Progress goes to
 * stderr (bars on a terminal, plain lines otherwise); the result goes to stdout (a summary, the module digest
 * with `--quiet`, or the `PullResult` as JSON with `--json`). Ctrl-C aborts the pull through its signal; a
 * second Ctrl-C exits at once.
 */
import type { Command } from "commander";
import type { PullResult } from "../oci/index.js";
import { type CliState, contextFor } from "./context.js";
import { formatBytes } from "./format.js";
import { lockTimeoutMs } from "./open-store.js";
import { runTransfer } from "./transfer.js";

interface PullFlags {
  platform?: string;
  plainHttp?: boolean;
  quiet?: boolean;
  json?: boolean;
}

/** Registers `pull` on `parent`. */
export function pullCommand(parent: Command, state: CliState): Command {
  return parent
    .command("pull")
    .description("fetch a wasm image into the local content store and extract its module")
    .argument("<ref>", "registry reference, oci:DIR[:TAG] or oci-archive:FILE[:TAG]")
    .option("--platform <os/arch>", "choose this platform from an index instead of the wasm preference order")
    .option("--plain-http", "talk plain HTTP to the registry (loopback registries always may)")
    .option("-q, --quiet", "print only the module digest, and no progress")
    .option("--json", "print the pull result as JSON, and no progress")
    .addHelpText(
      "after",
      `
The platform preference is wasip1/wasm, wasi/wasm, wasi/wasm32, wasm32/wasi. Progress goes to stderr: bars on a
terminal, plain lines otherwise. Pulling again fetches and extracts nothing that is already stored, and resumes
a download that broke or stalled. A registry silent for longer than the global --registry-timeout (default
30s; $NODEWASI_REGISTRY_TIMEOUT) is tried once more, then the pull exits 5 naming the host and the phase.
Layers are refused when an image holds more than $NODEWASI_UNPACK_MAX_ENTRIES entries (default 100000), more
than $NODEWASI_UNPACK_MAX_BYTES of files (2g) or inflates more than $NODEWASI_UNPACK_MAX_RATIO times (100).

Examples:
  $ nodewasi pull ghcr.io/containerd/runwasi/wasi-demo-app:latest
  $ nodewasi pull --platform wasi/wasm docker.io/library/hello-wasm@sha256:0123...
  $ nodewasi pull oci:./examples/images/hello:latest
  $ nodewasi pull oci-archive:./hello.tar:v1
  $ nodewasi pull --plain-http registry.lan:5000/tools/hello:v1
  $ nodewasi --registry-timeout 2m pull registry.far-away.example/tools/hello:v1
  $ nodewasi pull --json 127.0.0.1:5000/hello:latest | jq -r .module.path
  $ MODULE=$(nodewasi pull -q oci:./examples/images/hello:latest)`,
    )
    .action(async (ref: string, flags: PullFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const oci = await import("../oci/index.js");
      // Parse the reference and platform before any network access, so a typo fails fast with a usage error;
      // an InvalidArgument after this point is about the image, not the command line (asContentError).
      oci.sourceName(ref);
      const platform = flags.platform === undefined ? undefined : oci.parsePlatform(flags.platform);
      const timeout = lockTimeoutMs();
      const lockTimeout = timeout === undefined ? {} : { lockTimeoutMs: timeout };
      const result = await runTransfer(
        ctx,
        { progress: !flags.quiet && !flags.json, what: `pull of ${ref}` },
        (t) =>
          oci.pull(ref, {
            root: ctx.root,
            logger: ctx.logger,
            ...lockTimeout,
            signal: t.signal,
            ...(platform ? { platform } : {}),
            ...(flags.plainHttp ? { plainHttp: true } : {}),
            ...(ctx.registryTimeoutMs !== undefined ? { registryTimeoutMs: ctx.registryTimeoutMs } : {}),
            ...(t.onEvent ? { onEvent: t.onEvent } : {}),
          }),
        (r) => ({
          name: r.name,
          moved: r.bytesFetched ? `fetched ${formatBytes(r.bytesFetched)}` : "nothing fetched",
        }),
      );
      if (flags.json) ctx.out(`${JSON.stringify(result, null, 2)}\n`);
      else if (flags.quiet) ctx.out(`${result.module.digest}\n`);
      else ctx.out(pullSummary(result, oci.formatPlatform));
    });
}

/** The human summary of a pull, printed on stdout: one `key: value` line per fact. */
export function pullSummary(r: PullResult, formatPlatform: (p: PullResult["platform"]) => string): string {
  const rows: [string, string][] = [
    ["name", r.name],
    ["digest", r.digest],
    ["platform", formatPlatform(r.platform)],
    ["format", `${r.format} (${r.formatDescription})`],
    ["module", `${r.module.digest} ${formatBytes(r.module.size)} (${r.module.size} bytes, ${r.module.kind})`],
    ["path", r.module.path],
  ];
  if (r.entrypoint.length) rows.push(["entrypoint", r.entrypoint.join(" ")]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join("");
}
