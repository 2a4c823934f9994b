/**
 * The signals a guest can be sent (containerd's Kill carries a number, 1 to 64). A wasm guest handles none,
 * so it meets each signal's default action, as a native process that handles none does when runc delivers
 * one: SIGTERM, SIGHUP, SIGQUIT, SIGUSR2 ... end it with status 128 + signo; SIGSTOP and SIGTSTP stop it;
 * SIGCHLD, SIGURG, SIGWINCH and SIGCONT leave it running.
 *
 * The runner is a Node process, and Node changes the default action of a few; the runner undoes or stands in:
 * - SIGUSR1 would start Node's inspector (a debugger on 127.0.0.1:9229 that any local user can reach and run
 *   code through) instead of ending the guest: the runner resets it to its default at boot (runner-main.ts).
 * - SIGPIPE and SIGXFSZ are ignored by Node, so that a write fails with EPIPE or EFBIG instead, which is what a
 *   WASI guest's writes should meet (WASI has no signals), so it stays that way; a Kill with one of them is
 *   sent as SIGKILL and reported as what was asked (`standsIn`).
 * - 32 to 64, the real-time signals: glibc keeps 32 and 33 for itself (a Node process survives them) and Node
 *   reports a death by the others as exit code 0, so these are sent as SIGKILL and reported as asked too.
 */
import { constants } from "node:os";
import type { ExitStatus } from "./runner.js";

const NAMES = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(constants.signals) as [NodeJS.Signals, number][]) {
  if (!NAMES.has(n)) NAMES.set(n, name); // SIGABRT before SIGIOT, SIGIO before SIGPOLL, as Node reports them
}

/** The number of `signal`; 0 for a name this platform does not have. */
export function signalNumber(signal: NodeJS.Signals | number): number {
  return typeof signal === "number" ? signal : (constants.signals[signal] ?? 0);
}

/** The name of signal `signo`; undefined for the real-time ones, which have none in Node. */
export function signalName(signo: number): NodeJS.Signals | undefined {
  return NAMES.get(signo);
}

/** The exit status of a process that signal `signo` ended (DESIGN decision 6: 128 + signo). */
export function killedBy(signo: number, at = new Date()): ExitStatus {
  const signal = signalName(signo);
  return signal === undefined ? { code: 128 + signo, at } : { code: 128 + signo, at, signal };
}

/** Whether a Kill with `signo` is sent to the runner as SIGKILL and reported as `signo` (see above). */
export function standsIn(signo: number): boolean {
  return signo === constants.signals.SIGPIPE || signo === constants.signals.SIGXFSZ || signo >= 32;
}
