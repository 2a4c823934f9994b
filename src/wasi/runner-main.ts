/**
 * The runner process (DESIGN decision 5): started by ChildRunner as `node --no-warnings runner-main.js`, it
 * boots, starts the guest thread (runner-guest.ts), says `ready`, and runs exactly one spec it gets over IPC,
 * then reports the guest's status and ends. One guest per process gives the task a real pid: kill by signal, pause
 * by SIGSTOP, stats from /proc.
 *
 * Why a thread inside the process: `start()` is synchronous, so a guest on the main thread would block the
 * event loop and the runner could not notice that its parent died. The main thread stays free and, when the
 * IPC channel disconnects (the shim died or closed it), SIGKILLs its own process: a signal is the one thing that
 * ends a process whose thread is blocked in `fd_read` or `poll_oneoff` (reference node-wasi.md §1.8:
 * `process.exit()` hangs then). Node offers no `prctl(PR_SET_PDEATHSIG)`.
 */
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import type { FromRunner, ToRunner } from "./runner-protocol.js";

if (!process.send) {
  process.stderr.write("runner-main: must be started by nodewasi's ChildRunner with an IPC channel\n");
  process.exit(70);
}
const send = (msg: FromRunner, then?: () => void) => process.send?.(msg, undefined, {}, then);

// Node starts its inspector on SIGUSR1: a debugger listening on 127.0.0.1:9229, through which any local user
// could run code as the shim's user, where a guest (which handles no signal) must end with status 138. libuv
// puts a signal back to its default action when its last listener goes, which undoes Node's handler too.
const noop = () => {};
process.on("SIGUSR1", noop).off("SIGUSR1", noop);

process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));

const guest = new Worker(new URL("./runner-guest.js", import.meta.url), { stdout: false, stderr: false });
guest.on("error", (err) => {
  // A bug in the runner itself, not a guest trap (those are caught in the thread): report it and stop.
  send({ type: "failed", code: 13, message: `runner: guest thread failed: ${err.stack ?? err}` }, () =>
    process.exit(70),
  );
});
guest.on("message", (msg: FromRunner) => {
  if (msg.type === "exit") {
    // Ended only once the parent has the status (it reads it before the channel's EOF), and by SIGKILL rather
    // than process.exit(): the guest thread has closed every fd of the guest, so nothing is left to flush,
    // and Node's orderly exit (joining the guest thread and V8's platform threads, freeing the heaps) kept
    // the task's Wait waiting 30-150 ms on a loaded machine, against 7-16 ms for SIGKILL. The status the
    // runner reported is the one the parent reports (RunnerProcess), whatever ended the process after.
    send(msg, () => process.kill(process.pid, "SIGKILL"));
  } else if (msg.type === "failed") {
    send(msg, () => process.exit(70));
  } else {
    send(msg.type === "ready" ? { type: "ready", pid: process.pid } : msg);
  }
});

process.on("message", (msg: ToRunner) => {
  if (msg.type !== "run") return;
  // Process-wide V8 flag (reference §1.10): also bounds an imported memory that the module rewrite cannot
  // reach. Set here rather than on the command line so a warm runner can take a capped spec.
  if (msg.spec.maxPages !== undefined)
    setFlagsFromString(`--wasm-max-mem-pages=${Math.max(1, msg.spec.maxPages)}`);
  guest.postMessage(msg.spec);
});
