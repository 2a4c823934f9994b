/**
 * Where the standalone shim listens: `--address`, else `$NODEWASI_ADDRESS`, else `nodewasi.sock` in the
 * runtime directory (`/run/nodewasi` as root, else `$XDG_RUNTIME_DIR/nodewasi`). One daemon serves one state
 * root and owns it (shim/root-claim.ts): commands given another `--root` must also be given another
 * `--address`, and are refused otherwise (shim-client.ts).
 */
import { dirname, join, resolve } from "node:path";
import { defaultRuntimeDir } from "../internal/index.js";

/** The default socket path, absolute. */
export function defaultAddress(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NODEWASI_ADDRESS) return resolve(env.NODEWASI_ADDRESS);
  return resolve(defaultRuntimeDir(env), "nodewasi.sock");
}

/** `given` (a path, possibly `unix://`-prefixed or relative to the working directory) as an absolute path. */
export function socketPath(given: string | undefined): string {
  if (!given) return defaultAddress();
  return resolve(given.replace(/^unix:\/\//, ""));
}

/**
 * The folder for a run's stdio FIFOs: `io/` beside the shim's socket, where the shim removes the folders of runs
 * whose command died (run-stdio.ts).
 */
export function ioDirFor(address: string): string {
  return join(dirname(address), "io");
}
