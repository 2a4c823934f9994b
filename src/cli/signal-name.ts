/**
 * Signals as users type them for `nodewasi kill`: `TERM`, `SIGTERM`, `sigkill`, `9`. The Task API takes
 * numbers (containerd's KillRequest.signal).
 */
import { constants } from "node:os";
import { invalidArgument } from "../internal/index.js";

/** The signal number of `value`; InvalidArgument (exit 2) naming a few valid ones otherwise. */
export function parseSignal(value: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = v.toUpperCase().replace(/^SIG/, "");
    const n = (constants.signals as Record<string, number | undefined>)[`SIG${name}`];
    if (n !== undefined) return n;
  }
  throw invalidArgument(
    `${value} is not a signal; give a name (TERM, KILL, INT, HUP) or a number from 1 to 64`,
  );
}
