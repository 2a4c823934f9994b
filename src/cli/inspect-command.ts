/**
 * `nodewasi inspect REF`: what a stored image will run: the chosen platform and format, the module (digest,
 * size, kind), the WASI functions it imports, its memory limits and its entrypoint. Reads only the store; an
 * image that was never pulled is a clear not-found that says how to pull it.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { notFound } from "../internal/index.js";
import type { PullResult } from "../oci/index.js";
import type { WasmInfo } from "../wasi/index.js";
import { type CliState, contextFor } from "./context.js";
import { formatBytes } from "./format.js";
import { openStore } from "./open-store.js";

/** One WebAssembly page: 64 KiB. */
const PAGE = 65536;

/** Registers `inspect` on `parent`. */
export function inspectCommand(parent: Command, state: CliState): Command {
  return parent
    .command("inspect")
    .description("show what a pulled image runs: platform, format, module, WASI imports, memory, entrypoint")
    .argument("<ref>", "an image name as pulled (registry reference, oci:DIR[:TAG], oci-archive:FILE[:TAG])")
    .option("--json", "print everything as one JSON object")
    .addHelpText(
      "after",
      `
The image must be in the store (see \`nodewasi images\`); inspect never touches the network.

Examples:
  $ nodewasi inspect ghcr.io/containerd/runwasi/wasi-demo-app:latest
  $ nodewasi inspect oci:./examples/images/hello:latest
  $ nodewasi inspect --json hello | jq .wasm.imports`,
    )
    .action(async (ref: string, flags: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      const oci = await import("../oci/index.js");
      const { inspectWasm } = await import("../wasi/index.js");
      const { findImage } = await import("./image-record.js");
      const store = await openStore(ctx);
      const image = await findImage(store, ref);
      const pulled = image.pulled;
      if (!pulled) {
        throw notFound(
          `${image.name} is tagged but its module was never extracted; run \`nodewasi pull ${ref}\``,
        );
      }
      let bytes: Buffer;
      try {
        bytes = await readFile(pulled.module.path);
      } catch (err) {
        throw notFound(
          `module ${pulled.module.digest} of ${image.name} is missing from the store at ${pulled.module.path}; run \`nodewasi pull ${ref}\``,
          { cause: err },
        );
      }
      const wasm = inspectWasm(bytes);
      if (flags.json) {
        ctx.out(`${JSON.stringify({ ...pulled, name: image.name, wasm }, null, 2)}\n`);
        return;
      }
      ctx.out(inspectText(image.name, pulled, wasm, oci.formatPlatform));
    });
}

/** The human report: aligned `key: value` lines, then the imports one per line. */
export function inspectText(
  name: string,
  r: PullResult,
  wasm: WasmInfo,
  formatPlatform: (p: PullResult["platform"]) => string,
): string {
  const rows: [string, string][] = [
    ["name", name],
    ["digest", `${r.digest} (${r.mediaType})`],
    ["manifest", r.manifest.digest],
    ["platform", formatPlatform(r.platform)],
    ["format", `${r.format} (${r.formatDescription})`],
    ["module", r.module.digest],
    ["size", `${formatBytes(r.module.size)} (${r.module.size} bytes)`],
    ["kind", wasm.kind],
    ["source", r.module.source],
    ["path", r.module.path],
    ["entrypoint", r.entrypoint.length ? r.entrypoint.join(" ") : "-"],
    ["start", wasm.startExport ? "_start (a WASI command)" : "no _start export (a reactor or library)"],
    ["memory", memoryText(wasm.memory)],
    ["wasi", wasm.wasi === "none" ? "none (imports no WASI)" : wasm.wasi],
  ];
  if (r.workingDir) rows.push(["working dir", r.workingDir]);
  if (r.env.length) rows.push(["env", r.env.join(" ")]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  const lines = rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`);
  const wasi = wasm.imports.filter((i) => i.module.startsWith("wasi"));
  const other = wasm.imports.filter((i) => !i.module.startsWith("wasi"));
  lines.push(`WASI imports (${wasi.length}):`);
  for (const i of wasi) lines.push(`  ${i.module}.${i.name} (${i.kind})`);
  if (other.length) {
    lines.push(`other imports (${other.length}):`);
    for (const i of other) lines.push(`  ${i.module}.${i.name} (${i.kind})`);
  }
  return `${lines.join("\n")}\n`;
}

/** `min 1 page (64.0 KiB), max 16 pages (1.0 MiB)`, or `none`. */
export function memoryText(memory: WasmInfo["memory"]): string {
  if (!memory) return "none";
  const pages = (n: number) => `${n} ${n === 1 ? "page" : "pages"} (${formatBytes(n * PAGE)})`;
  const flags = [
    memory.imported && "imported",
    memory.shared && "shared",
    memory.memory64 && "64-bit",
  ].filter(Boolean);
  const limits = `min ${pages(memory.min)}, ${memory.max === undefined ? "no max" : `max ${pages(memory.max)}`}`;
  return flags.length ? `${limits} (${flags.join(", ")})` : limits;
}
