/**
 * The Task API calls of `nodewasi run`, in containerd's order: Create, Wait (before Start, so the exit cannot
 * be missed), Start, then the exit. A task that fails to start is deleted, so its id is free again.
 */
import { anyPack } from "@bufbuild/protobuf/wkt";
import { type CreateOptions, CreateOptionsSchema, type Task } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import type { Client } from "../rpc/index.js";
import type { Stdio } from "../wasi/index.js";
import { RunStdio } from "./run-stdio.js";

type TaskClient = Client<typeof Task>;

export interface RunTaskRequest {
  id: string;
  options: CreateOptions;
  /** The task's stdio URIs (it never gets a terminal). */
  stdio: Stdio<string>;
}

/** How long the output FIFOs may stay open after the guest's exit before the run stops waiting for EOF. */
const DRAIN_MS = 5000;

/** Creates and starts a task; deletes it again when Start fails. Resolves with its pid. */
export async function runTask(task: TaskClient, r: RunTaskRequest): Promise<number> {
  await task.create({
    id: r.id,
    bundle: "",
    ...r.stdio,
    terminal: false,
    options: anyPack(CreateOptionsSchema, r.options),
  });
  try {
    return (await task.start({ id: r.id })).pid;
  } catch (err) {
    await task.delete({ id: r.id }).catch(() => {});
    throw startFailure(err, r.options.image);
  }
}

/**
 * A failed Start as the user should read it: the runner refuses a module whose bytes no longer match its digest
 * (DataLoss), and a pull replaces the store's damaged copy (it verifies what it finds: src/oci/pull/pull.ts).
 */
export function startFailure(err: unknown, image: string): unknown {
  const e = ShimError.from(err);
  if (e.code !== Code.DataLoss) return err;
  const hint = `the store's copy of ${image} is damaged: \`nodewasi pull ${image}\` replaces it, and \`nodewasi check --repair\` checks the whole store`;
  return new ShimError(e.code, e.rawMessage, { cause: err, details: { ...e.details, hint } });
}

export interface AttachedRunOptions {
  id: string;
  options: CreateOptions;
  /** Connect process.stdin to the guest's stdin (else /dev/null). */
  interactive: boolean;
  /** Where the stdio FIFOs are made: `io/` beside the shim's socket (RunStdio.create). */
  ioDir: string;
}

/**
 * Runs a task with its stdio on this process's, forwarding SIGINT (then SIGKILL on a second one) and SIGTERM
 * as Kill. Resolves with the guest's exit status once its output has been copied to the end.
 */
export async function attachedRun(task: TaskClient, o: AttachedRunOptions): Promise<number> {
  const stdio = await RunStdio.create(o.interactive, o.ioDir);
  stdio.attach(process.stdout, process.stderr, o.interactive ? process.stdin : undefined);
  let started = false;
  let pending: number | undefined;
  let interrupts = 0;
  const forward = (signal: number) => {
    if (!started) {
      pending = signal;
      return;
    }
    task.kill({ id: o.id, signal }).catch(() => {
      // The guest may have exited meanwhile; its status is what the run reports.
    });
  };
  const onSigint = () => forward(++interrupts > 1 ? 9 : 2);
  const onSigterm = () => forward(15);
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  try {
    await task.create({
      id: o.id,
      bundle: "",
      ...stdio.paths,
      terminal: false,
      options: anyPack(CreateOptionsSchema, o.options),
    });
    if (pending !== undefined) {
      await task.delete({ id: o.id }).catch(() => {});
      throw new ShimError(Code.Canceled, `task ${o.id} was not started`);
    }
    const waiting = task.wait({ id: o.id });
    waiting.catch(() => {});
    try {
      await task.start({ id: o.id });
    } catch (err) {
      await task.delete({ id: o.id }).catch(() => {});
      throw startFailure(err, o.options.image);
    }
    started = true;
    if (pending !== undefined) forward(pending);
    // With --rm (options.autoRemove) the shim has deleted the task by the time Wait answers: deleting it here
    // would race a task of the same name created since, and a run killed before this point left it behind.
    const { exitStatus } = await waiting;
    await Promise.race([stdio.outputsDone(), new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
    return exitStatus;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
    await stdio.close();
  }
}
