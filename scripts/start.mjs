#!/usr/bin/env node
// `npm start`: the main job on the embedded example, with no registry and no network. Runs the hello image
// from the OCI layout in examples/images/hello through the shim, exactly as a user would:
//
//   nodewasi --root .nodewasi --address .nodewasi/shim.sock run --rm oci:examples/images/hello:latest
//
// `run` finds no shim on .nodewasi/shim.sock, starts one (as containerd would), pulls the image into the store
// in .nodewasi/ (never a system store), and prints the guest's output; this script then prints the exit
// status and asks the shim to shut down, so `npm start` leaves nothing running.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const top = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(top, "bin", "nodewasi");
const address = join(top, ".nodewasi", "shim.sock");
const args = ["--root", ".nodewasi", "--address", ".nodewasi/shim.sock", "run", "--rm"];
args.push("oci:examples/images/hello:latest", ...process.argv.slice(2));

process.stderr.write(`$ nodewasi ${args.join(" ")}\n`);
// The daemon exits by itself after 10 s idle should the Shutdown below not reach it.
const env = { ...process.env, NODEWASI_IDLE_TIMEOUT: process.env.NODEWASI_IDLE_TIMEOUT ?? "10" };
const r = spawnSync(process.execPath, [bin, ...args], { cwd: top, stdio: "inherit", env });
const status = r.status ?? 128 + (r.signal === "SIGINT" ? 2 : 15);
process.stdout.write(`exit status ${status}\n`);

await stopShim();
process.exit(status);

/** Shutdown (the shim exits once no task is left, and --rm left none), then wait for its socket to go. */
async function stopShim() {
  if (!existsSync(address)) return;
  const { Task } = await import("../dist/src/gen/index.js");
  const { closeClient, createClient } = await import("../dist/src/rpc/index.js");
  const task = createClient(Task, address, { timeoutMs: 5000 });
  try {
    await task.shutdown({});
  } catch (err) {
    process.stderr.write(`npm start: the shim on ${address} did not take Shutdown: ${err.message}\n`);
  } finally {
    closeClient(task);
  }
  for (let i = 0; i < 50 && existsSync(address); i++) await new Promise((r) => setTimeout(r, 100));
  if (existsSync(address)) process.stderr.write(`npm start: the shim on ${address} is still running\n`);
}
