#!/usr/bin/env node
// `npm start`: the main job on the embedded example, with no network. Pulls the hello image from the OCI
// layout in examples/images/hello into a store in .nodewasi/ (so it never touches a system store), then shows
// what nodewasi found in it. Each step is the real `nodewasi` command, printed before it runs.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const top = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(top, "bin", "nodewasi");
const root = join(top, ".nodewasi");
const image = "oci:examples/images/hello:latest";

for (const args of [
  ["pull", image],
  ["inspect", image],
]) {
  process.stderr.write(`\n$ nodewasi --root .nodewasi ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [bin, "--root", root, ...args], { cwd: top, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
