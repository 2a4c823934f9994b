/**
 * A `binary://` logging driver, started as containerd's shim starts one (containerd `pkg/process/io.go`
 * `NewBinaryIO`, and `runtime/v2/logging`): the binary gets the container's stdout on fd 3, stderr on fd 4 and
 * a "ready" pipe on fd 5 that it closes once set up; `CONTAINER_ID` and `CONTAINER_NAMESPACE` in its env; the
 * URI's query as arguments. The guest starts only after ready. The stream fds are socket pairs made by
 * `spawn` (Node has no pipe()); the runner gets the other ends and this process drops its copies, so the
 * logger sees EOF as soon as the runner exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { Code, ShimError } from "../internal/index.js";

/** How long a logger may take to become ready, and to exit after EOF, before it is killed (containerd: 12 s). */
export const LOGGER_TIMEOUT_MS = 12_000;

const READY_GRACE_MS = 20;

/** A started logging binary and the parent's ends of its streams. */
export interface BinaryLogger {
  readonly child: ChildProcess;
  /** The parent's ends of the guest's stdout and stderr streams, to pass to the runner's spawn. */
  readonly stdout: Socket;
  readonly stderr: Socket;
  /** Settles when the logger process has exited (killed after LOGGER_TIMEOUT_MS once the streams ended). */
  readonly exited: Promise<void>;
  /** Drops this process's stream ends once the runner holds them. */
  release(): void;
  kill(): void;
}

/** Starts the logger and resolves once it closed fd 5 (ready); rejects with a ShimError when it dies first. */
export async function startBinaryLogger(
  path: string,
  args: string[],
  ids: { id: string; namespace: string },
): Promise<BinaryLogger> {
  const child = spawn(path, args, {
    stdio: ["ignore", "ignore", "ignore", "pipe", "pipe", "pipe"],
    env: { ...process.env, CONTAINER_ID: ids.id, CONTAINER_NAMESPACE: ids.namespace },
  });
  const [, , , stdout, stderr, ready] = child.stdio as unknown as (Socket | undefined)[];
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let killTimer: NodeJS.Timeout | undefined;
  exited.then(() => clearTimeout(killTimer));
  const logger: BinaryLogger = {
    child,
    stdout: stdout!,
    stderr: stderr!,
    exited,
    release() {
      stdout?.destroy();
      stderr?.destroy();
      killTimer = setTimeout(() => child.kill("SIGKILL"), LOGGER_TIMEOUT_MS);
      killTimer.unref();
    },
    kill() {
      stdout?.destroy();
      stderr?.destroy();
      child.kill("SIGKILL");
    },
  };
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string, cause?: unknown) => {
      logger.kill();
      reject(
        new ShimError(Code.FailedPrecondition, `logging binary ${path}: ${why}; check the binary:// URI`, {
          cause,
        }),
      );
    };
    const timer = setTimeout(
      () => fail(`not ready after ${LOGGER_TIMEOUT_MS / 1000} s (it must close fd 5)`),
      LOGGER_TIMEOUT_MS,
    );
    child.once("error", (err) => {
      clearTimeout(timer);
      fail(`cannot start it (${err.message})`, err);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      fail(`exited before it was ready (${signal ?? `status ${code}`})`);
    });
    ready!.resume();
    ready!.once("close", () => {
      clearTimeout(timer);
      // A logger that dies closes fd 5 too, and its exit is seen a moment later: wait READY_GRACE_MS for it,
      // so a logger that cannot start is refused instead of the guest writing into a closed socket.
      setTimeout(() => {
        if (child.exitCode !== null || child.signalCode !== null || stdout!.destroyed) return;
        child.removeAllListeners("exit");
        resolve();
      }, READY_GRACE_MS);
    });
  });
  return logger;
}
