/**
 * A preopen's host directory is checked before a runner is given it (issue 10 item 10): under bwrap a missing
 * one made bwrap fail to bind it, and the error blamed bwrap and node ("check that bwrap and node work here")
 * instead of the mount the user gave. Used by ChildRunner before it starts a runner, and by the runner itself.
 */
import { statSync } from "node:fs";
import { notFound } from "../internal/index.js";

/**
 * Throws NotFound naming the guest path and the host directory when a preopen's host directory does not exist,
 * is not a directory or cannot be looked at.
 */
export function checkPreopens(preopens: Record<string, string>): void {
  for (const [guest, host] of Object.entries(preopens)) {
    let problem: string;
    try {
      if (statSync(host).isDirectory()) continue;
      problem = "is not a directory; mount a directory";
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problem =
        code === "ENOENT"
          ? "does not exist; create it, or correct the mount's host path"
          : `cannot be looked at (${code ?? (err as Error).message})`;
    }
    throw notFound(`the host directory ${host} for the guest's ${guest} ${problem}`, {
      details: { guest, host },
    });
  }
}
