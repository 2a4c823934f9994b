/**
 * The FIFOs an attached `nodewasi run` hands the shim as the task's stdio, as ctr does: made with `mkfifo`
 * (Node cannot) in a fresh 0700 temp folder, and opened here before Start. A FIFO open blocks until the other
 * end opens, so opens run in the libuv threadpool (fs.open), never on the main thread; read ends are read
 * through `net.Socket` pipe handles, which do not block the process at exit as fs streams do (reference
 * node-wasi.md section 1.7).
 */
import { execFile } from "node:child_process";
import { closeSync, constants, open, openSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, mayBeOwner, ShimError } from "../internal/index.js";
import type { Stdio } from "../wasi/index.js";

const openAsync = promisify(open);
const execFileAsync = promisify(execFile);

/** The FIFOs' paths, as the task's stdio URIs ("" for a stream the guest does not get). */
export type RunStdioPaths = Stdio<string>;

/** A run's folder is `run-<pid>-XXXXXX` in `io/`: the pid of the command that made it, for `removeDeadRunDirs`. */
const RUN_DIR_PREFIX = "run-";
const RUN_DIR = /^run-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Removes the run folders in `ioDir` whose command is no longer alive (it was killed before it could remove
 * them). The daemon calls it when it starts. A pid reused by a process that started after the folder was made
 * is not its command (mayBeOwner), so that folder goes too.
 */
export async function removeDeadRunDirs(ioDir: string): Promise<void> {
  for (const name of await readdir(ioDir).catch(() => [] as string[])) {
    const pid = Number(RUN_DIR.exec(name)?.[1] ?? 0);
    if (pid <= 0) continue;
    const dir = join(ioDir, name);
    const made = await stat(dir).catch(() => undefined);
    if (made && !mayBeOwner(pid, made.ctimeMs)) await rm(dir, { recursive: true, force: true });
  }
}

/** The three FIFOs of one run and the copying between them and this process's stdio. */
export class RunStdio {
  readonly paths: RunStdioPaths;
  readonly #dir: string;
  #opening: Promise<number>[] = [];
  #sockets: Socket[] = [];
  #outputsDone: Promise<void> = Promise.resolve();
  /** Undoes what attach() added to this process's streams. */
  #detach: (() => void)[] = [];

  private constructor(dir: string, paths: RunStdioPaths) {
    this.#dir = dir;
    this.paths = paths;
  }

  /**
   * Makes the FIFOs (stdin only when `interactive`; "" means /dev/null to the shim) in a fresh folder under
   * `ioDir`, the `io/` folder beside the shim's socket.
   */
  static async create(interactive: boolean, ioDir: string): Promise<RunStdio> {
    await mkdir(ioDir, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(join(ioDir, `${RUN_DIR_PREFIX}${process.pid}-`));
    const paths = {
      stdin: interactive ? join(dir, "stdin") : "",
      stdout: join(dir, "stdout"),
      stderr: join(dir, "stderr"),
    };
    const fifos = [paths.stdin, paths.stdout, paths.stderr].filter(Boolean);
    try {
      await execFileAsync("mkfifo", ["-m", "600", ...fifos]);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw new ShimError(
        Code.FailedPrecondition,
        `making the stdio FIFOs in ${dir} failed: ${(err as Error).message.trim()}; mkfifo (coreutils) must be on PATH`,
        { cause: err },
      );
    }
    return new RunStdio(dir, paths);
  }

  /**
   * Starts opening our ends (call before Start: the shim's runner opens the other ends then) and copying:
   * stdout and stderr FIFOs to this process's, and this process's stdin to the stdin FIFO until EOF.
   *
   * When what reads our stdout or stderr goes away (`run REF | head -c 100`: EPIPE), that copy stops and our
   * end of the FIFO is closed, so the guest's next write to it fails with EPIPE, as a writer in a shell
   * pipeline meets it (WASI has no SIGPIPE: the guest decides what to do), while the run goes on to the
   * guest's exit, its status and --rm. Draining the FIFO to nowhere instead would let a guest that writes
   * forever run forever.
   */
  attach(out: NodeJS.WritableStream, err: NodeJS.WritableStream, input?: NodeJS.ReadableStream): void {
    const reader = (path: string, to: NodeJS.WritableStream) => {
      let gone: (() => void) | undefined;
      let broken = false;
      const onError = () => {
        broken = true;
        gone?.();
      };
      // Listening before anything is written tells bin/nodewasi that this EPIPE is handled here.
      to.on("error", onError);
      this.#detach.push(() => to.off("error", onError));
      const opening = openAsync(path, constants.O_RDONLY);
      this.#opening.push(opening);
      return opening.then(
        (fd) =>
          new Promise<void>((resolve) => {
            const socket = new Socket({ fd, readable: true, writable: false });
            this.#sockets.push(socket);
            gone = () => {
              socket.destroy();
              resolve();
            };
            if (broken) gone();
            socket.on("data", (chunk: Buffer) => {
              if (!to.write(chunk)) {
                socket.pause();
                to.once("drain", () => socket.resume());
              }
            });
            socket.once("end", resolve);
            socket.once("close", resolve);
            socket.once("error", () => resolve());
          }),
      );
    };
    this.#outputsDone = Promise.all([reader(this.paths.stdout, out), reader(this.paths.stderr, err)]).then(
      () => {},
    );
    if (this.paths.stdin && input) {
      const opening = openAsync(this.paths.stdin, constants.O_WRONLY);
      this.#opening.push(opening);
      void opening.then((fd) => {
        const socket = new Socket({ fd, readable: false, writable: true });
        this.#sockets.push(socket);
        // The guest may exit without reading everything: EPIPE is its business, not an error of the run.
        socket.on("error", () => input.unpipe(socket));
        input.pipe(socket);
      });
    }
  }

  /** Resolves once both output FIFOs reached EOF (the guest and its runner closed them). */
  outputsDone(): Promise<void> {
    return this.#outputsDone;
  }

  /**
   * Ends everything and removes the folder. An open still waiting for the shim (Create or Start failed) is
   * released by opening the FIFO read-write ourselves, which never blocks and satisfies the waiting open.
   */
  async close(): Promise<void> {
    for (const path of [this.paths.stdin, this.paths.stdout, this.paths.stderr]) {
      if (!path) continue;
      try {
        closeSync(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
      } catch {
        // Gone already: nothing waits on it.
      }
    }
    await Promise.allSettled(this.#opening);
    for (const s of this.#sockets) s.destroy();
    for (const undo of this.#detach.splice(0)) undo();
    await rm(this.#dir, { recursive: true, force: true });
  }
}
