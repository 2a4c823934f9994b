/**
 * Starting a daemon and knowing it serves: both halves of one small protocol, used by containerd's
 * `containerd-shim-nodewasi-v1 start` (for its `serve` daemon) and by the CLI (for `nodewasi shim serve`).
 *
 * The launcher (`launchDaemon`) spawns the daemon detached with a pipe on fd 3, named to the daemon by
 * `NODEWASI_READY_FD=3` in its environment. The daemon (`daemonReadiness`) writes one line there once it
 * listens, `ready`, or `error <code> <message>` (a gRPC code and the one-line reason) when it cannot, and closes
 * it. The first line decides: the pipe may stay open in processes the daemon spawned before it answered (warm
 * runners inherit fd 3), so its end is not awaited. A daemon that ends without a word, or says nothing within
 * the launcher's timeout, is reported as such, with its exit status.
 *
 * Why a pipe rather than watching the socket: the daemon knows when it serves and why it could not, where
 * the socket only appears; and nothing is polled. A leaf helper, so that `start` (on containerd's critical
 * path) loads neither rpc/ nor the Task service to launch one.
 */
import { spawn } from "node:child_process";
import { closeSync, writeSync } from "node:fs";
import { Code, ShimError } from "./shim-error.js";

/** The environment variable that tells a launched daemon which fd to answer on. */
export const READY_FD_ENV = "NODEWASI_READY_FD";

/** The fd the launcher gives the daemon its pipe on (after stdin, stdout and stderr). */
const READY_FD = 3;

/** How long the launcher waits, once the pipe has ended or the daemon exited, for the other (they race). */
const EXIT_GRACE_MS = 1000;

export interface LaunchOptions {
  /** Arguments of `process.execPath` (the script first, after any Node flags). */
  args: string[];
  /** The daemon's working directory. */
  cwd: string;
  /** Its environment (default process.env); `NODEWASI_READY_FD` is added. */
  env?: NodeJS.ProcessEnv;
  /** Where its stdout and stderr go: nowhere, or an open file descriptor (a log file). */
  output: "ignore" | number;
  /** How long it has to answer. */
  timeoutMs: number;
}

/** What became of a launched daemon. */
export type LaunchOutcome =
  /** It serves. */
  | { state: "ready"; pid: number }
  /** It said why it could not serve. */
  | { state: "failed"; error: ShimError }
  /** It ended (or could not be spawned) without a word: `exit status N`, a signal name, or the spawn error. */
  | { state: "ended"; status: string }
  /** It said nothing within `timeoutMs` (it may still be starting: it is left running). */
  | { state: "silent"; pid: number };

/**
 * Spawns `process.execPath` with `o.args` as a detached daemon and resolves once it has answered on its
 * readiness pipe, ended, or stayed silent for `o.timeoutMs`. Never rejects. The daemon is left running and
 * unreferenced: it does not keep this process alive.
 */
export function launchDaemon(o: LaunchOptions): Promise<LaunchOutcome> {
  const child = spawn(process.execPath, o.args, {
    cwd: o.cwd,
    detached: true,
    // Inheriting the launcher's pipes would keep them open for the daemon's life (containerd's
    // CombinedOutput of `start` would hang).
    stdio: ["ignore", o.output, o.output, "pipe"],
    env: { ...(o.env ?? process.env), [READY_FD_ENV]: String(READY_FD) },
  });
  const pipe = child.stdio[READY_FD] as NodeJS.ReadableStream & { destroy(): void };
  return new Promise<LaunchOutcome>((resolve) => {
    let text = "";
    let exited: string | undefined;
    let pipeEnded = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const settle = (outcome: LaunchOutcome) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      pipe.destroy();
      child.unref();
      resolve(outcome);
    };
    const firstLine = () => (text.includes("\n") ? text.split("\n")[0]!.trim() : "");
    const ended = () =>
      settle({ state: "ended", status: exited ?? "closed its readiness pipe without a word" });
    // The pipe's end and the exit race each other (and the answer written just before an exit): either one
    // waits a moment for the other, never longer.
    const over = () => {
      const line = firstLine();
      if (line) return settle(parseAnswer(line, child.pid ?? 0));
      if (pipeEnded && exited !== undefined) return ended();
      timers.push(
        setTimeout(() => {
          const last = firstLine() || text.trim();
          return last ? settle(parseAnswer(last, child.pid ?? 0)) : ended();
        }, EXIT_GRACE_MS),
      );
    };
    timers.push(setTimeout(() => settle({ state: "silent", pid: child.pid ?? 0 }), o.timeoutMs));
    pipe.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      const line = firstLine();
      if (line) settle(parseAnswer(line, child.pid ?? 0));
    });
    pipe.on("error", () => {});
    pipe.on("end", () => {
      pipeEnded = true;
      over();
    });
    child.once("exit", (code, signal) => {
      exited = signal ?? `exit status ${code}`;
      over();
    });
    child.once("error", (err) => settle({ state: "ended", status: err.message }));
  });
}

function parseAnswer(line: string, pid: number): LaunchOutcome {
  if (line === "ready") return { state: "ready", pid };
  const m = /^error (\d+) (.*)$/.exec(line);
  if (m) return { state: "failed", error: new ShimError(Number(m[1]) as Code, m[2]!) };
  return { state: "failed", error: new ShimError(Code.Internal, `unexpected readiness answer: ${line}`) };
}

/** The daemon's half: says, once, that it serves or why it cannot. */
export interface DaemonReadiness {
  ready(): void;
  failed(err: unknown): void;
}

/**
 * The readiness pipe `launchDaemon` gave this process, from `NODEWASI_READY_FD` in `env` (removed from it,
 * so that processes this daemon spawns do not answer in its place). Without it (a daemon run by hand) both
 * calls do nothing: an fd 3 this process was not told about is never written to.
 */
export function daemonReadiness(env: NodeJS.ProcessEnv = process.env): DaemonReadiness {
  const fd = Number(env[READY_FD_ENV]);
  delete env[READY_FD_ENV];
  let sent = !Number.isInteger(fd) || fd < READY_FD;
  const send = (line: string) => {
    if (sent) return;
    sent = true;
    try {
      writeSync(fd, `${line}\n`);
      closeSync(fd);
    } catch {
      // The launcher gave up and closed its end: nobody waits.
    }
  };
  return {
    ready: () => send("ready"),
    failed: (err) => {
      const e = ShimError.from(err);
      send(`error ${e.code} ${e.rawMessage.replace(/\s*\n\s*/g, " ")}`);
    },
  };
}
