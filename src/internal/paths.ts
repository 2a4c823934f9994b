/**
 * Where nodewasi keeps state (DESIGN "Names"): `$NODEWASI_ROOT`, else `/var/lib/nodewasi` when root, else
 * `$XDG_DATA_HOME/nodewasi` (`~/.local/share/nodewasi`).
 */
import { homedir } from "node:os";
import { join } from "node:path";

export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NODEWASI_ROOT) return env.NODEWASI_ROOT;
  if (process.getuid?.() === 0) return "/var/lib/nodewasi";
  return join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "nodewasi");
}

/** Runtime sockets: `/run/nodewasi` when root, else `$XDG_RUNTIME_DIR/nodewasi`. */
export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return "/run/nodewasi";
  return join(env.XDG_RUNTIME_DIR || join(homedir(), ".cache"), "nodewasi");
}
