/**
 * zstd decoded by the system's reference decoder, `zstd -d`, in a child process: compressed bytes go to its
 * stdin, decompressed bytes come from its stdout. On Node 20 (no zstd in zlib) this decodes a layer at native
 * speed, on a second core, where fzstd in JavaScript is 5 to 10 times slower (`npm run bench -- zstd`).
 *
 * The child is started at the first byte, with an empty environment and `--memory` set to MAX_ZSTD_WINDOW, so
 * even a frame the frame check let through cannot make it reserve more. Backpressure holds end to end: a slow
 * reader pauses stdout, the child blocks on its full pipe, and its stdin stops taking bytes. Destroying the
 * stage (an abort, a refusal further down the pipeline) kills the child with SIGKILL; Node reaps it.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { Duplex } from "node:stream";
import { Code, invalidArgument, ShimError } from "../../internal/index.js";
import { MAX_ZSTD_WINDOW } from "./zstd-frames.js";

/** The most of the child's stderr kept for an error message. */
const STDERR_KEPT = 2048;

export class ZstdProcess extends Duplex {
  readonly #binary: string;
  readonly #layer: string;
  #child: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  #stderr = "";
  /** The callback of a write waiting for stdin to drain, released if the child goes away first. */
  #pending: ((err?: Error | null) => void) | undefined;

  /** `binary` is the full path of `zstd`; `layer` names the layer in errors. */
  constructor(binary: string, layer: string) {
    super({ readableHighWaterMark: 256 * 1024 });
    this.#binary = binary;
    this.#layer = layer;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const child = this.#child ?? this.#start();
    if (child.stdin.write(chunk)) {
      cb();
      return;
    }
    this.#pending = cb;
    child.stdin.once("drain", () => this.#release());
  }

  override _final(cb: (err?: Error | null) => void): void {
    (this.#child ?? this.#start()).stdin.end();
    cb();
  }

  override _read(): void {
    this.#child?.stdout.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    child?.stdin.destroy();
    child?.stdout.destroy();
    this.#release();
    cb(err);
  }

  #release(): void {
    const cb = this.#pending;
    this.#pending = undefined;
    cb?.();
  }

  #start(): ChildProcessByStdio<Writable, Readable, Readable> {
    const args = ["-d", "-c", "-q", `--memory=${MAX_ZSTD_WINDOW / 1024}KB`];
    const child = spawn(this.#binary, args, { stdio: ["pipe", "pipe", "pipe"], env: {} });
    this.#child = child;
    child.stdout.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (this.#stderr.length < STDERR_KEPT) this.#stderr += chunk.toString("utf8");
    });
    // The child's exit says what happened; a write to a stdin it closed (EPIPE) says nothing more.
    child.stdin.on("error", () => this.#release());
    child.stderr.on("error", () => {});
    child.stdout.on("error", (err) => this.destroy(err));
    child.on("error", (err) => {
      this.destroy(
        new ShimError(Code.FailedPrecondition, `${this.#layer}: cannot run ${this.#binary}: ${err.message}`, {
          cause: err,
        }),
      );
    });
    // "close": the process has exited and its stdout is drained, so the last bytes were pushed before.
    child.on("close", (code, signal) => {
      this.#release();
      if (this.destroyed) return;
      if (code === 0) this.push(null);
      else this.destroy(this.#failure(code, signal));
    });
    return child;
  }

  #failure(code: number | null, signal: NodeJS.Signals | null): ShimError {
    if (signal !== null) {
      return new ShimError(
        Code.Internal,
        `${this.#layer}: ${this.#binary} -d was killed by ${signal} while decompressing; pull it again`,
      );
    }
    // zstd names its input "/*stdin*\" before each message.
    const said = this.#stderr
      .replace(/^(zstd: )?\/\*stdin\*\\\s*:?\s*/gm, "")
      .trim()
      .split("\n")
      .join("; ");
    return invalidArgument(
      `${this.#layer}: corrupt zstd data (${said || `zstd -d exited with status ${code}`}); pull it again`,
    );
  }
}
