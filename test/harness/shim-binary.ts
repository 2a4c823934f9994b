/**
 * The shim binary run as containerd runs it (reference containerd-shim-protocol.md §1.2): flags then an action,
 * in a bundle dir, with an environment and a stdin blob; stdout and stderr kept apart so a test can check that
 * `start` printed nothing but its reply.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { REPO_DIR } from "./containerd.js";

export const SHIM_BIN = join(REPO_DIR, "bin/containerd-shim-nodewasi-v1");

export interface ShimRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the shim binary; `stdin` defaults to an `Any`-shaped blob, as containerd may send. */
export function runShimBinary(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  stdin: Uint8Array = Buffer.from([0x0a, 0x02, 0x61, 0x62]),
): Promise<ShimRun> {
  return new Promise((done) => {
    const p = execFile(SHIM_BIN, args, { cwd, env }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    p.stdin?.end(stdin);
  });
}

/** The flags containerd gives `start` for task `id` (a fake containerd socket: nothing dials it). */
export function startFlags(id: string, namespace = "ns", address = "/run/ctd.sock"): string[] {
  return ["-namespace", namespace, "-address", address, "-publish-binary", "/x", "-id", id, "start"];
}

/** Whether process `pid` exists (signal 0): the CLI fixture's check, for the shim binary's tests too. */
export { alive } from "./cli-work.js";
