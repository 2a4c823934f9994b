/**
 * The content store as the CLI's commands open it: a wait for a lock another process holds is said on stderr
 * (who holds it, since when) instead of looking like a hang, and `$NODEWASI_LOCK_TIMEOUT` (seconds) bounds such
 * a wait for scripts that would rather fail than wait. Without it a command waits as long as the holder is alive
 * and renews its lock; a stopped or hung holder fails the wait within a minute (src/oci/store/lock.ts).
 */

import { invalidArgument } from "../internal/index.js";
import type { ContentStore } from "../oci/index.js";
import type { CliContext } from "./context.js";
import { waitingLine } from "./store-notices.js";

/** The environment variable that bounds waits for store locks, in seconds. */
export const LOCK_TIMEOUT_ENV = "NODEWASI_LOCK_TIMEOUT";

/** `$NODEWASI_LOCK_TIMEOUT` in ms, or undefined when unset; a value that is no number of seconds is refused. */
export function lockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[LOCK_TIMEOUT_ENV];
  if (raw === undefined || raw === "") return undefined;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 0) {
    throw invalidArgument(
      `${LOCK_TIMEOUT_ENV}=${JSON.stringify(raw)} is no number of seconds; set it to 60, say`,
    );
  }
  return s * 1000;
}

/** Opens the store at `ctx.root`, telling the user on stderr when it waits for another process's lock. */
export async function openStore(ctx: CliContext): Promise<ContentStore> {
  const oci = await import("../oci/index.js");
  const timeout = lockTimeoutMs();
  return oci.ContentStore.open(ctx.root, {
    onLockWait: (w) =>
      ctx.err(`nodewasi: ${waitingLine({ what: w.what, holder: oci.describeHolder(w.holder) })}\n`),
    ...(timeout !== undefined ? { lockTimeoutMs: timeout } : {}),
  });
}
