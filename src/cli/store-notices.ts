/**
 * What the store tells a person while a command works, outside the progress of a transfer: a wait for a lock
 * another process holds (who, since when), and damaged content or leftovers it repaired. Printed on stderr by
 * every command that touches the store, with or without progress (`-q` and `--json` keep stdout clean, not
 * stderr silent: a wait that says nothing looks like a hang).
 */
import type { CopyEvent, PullEvent } from "../oci/index.js";

/** A wait for a store lock: `waiting for the list of images of /r: locked by pid 1 (...) since ...`. */
export function waitingLine(e: { what: string; holder: string }): string {
  return `waiting for ${e.what}: locked by ${e.holder}`;
}

/** Something repaired in the store: `repaired PATH: its bytes hash to sha256:...; removed; fetching it again`. */
export function repairedLine(e: { path: string; problem: string; action: string }): string {
  return `repaired ${e.path}: ${e.problem}; ${e.action}`;
}

/** The store event `e` as a stderr line for a command without progress, or undefined for any other event. */
export function noticeLine(e: PullEvent | CopyEvent): string | undefined {
  if (e.type === "waiting") return `nodewasi: ${waitingLine(e)}\n`;
  if (e.type === "repaired") return `nodewasi: ${repairedLine(e)}\n`;
  return undefined;
}
