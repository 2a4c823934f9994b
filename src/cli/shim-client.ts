/**
 * How commands reach the standalone shim: one gRPC channel to its unix socket, with typed clients of the
 * Task, Images and Tasks services. When nothing listens, `run` starts a daemon as containerd would start a
 * shim (DESIGN "Flows"): `nodewasi shim serve --idle-timeout 30` detached, its output appended to
 * `shim.log` beside the socket, so it outlives the command and exits by itself once idle.
 */
import { mkdir, open, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Images, Task, Tasks } from "../gen/index.js";
import {
  Code,
  type LaunchOutcome,
  launchDaemon,
  ownedBy,
  pathExists,
  readRootOwner,
  ShimError,
} from "../internal/index.js";
import { type Client, closeClient, connectGrpc, createClient, isListening } from "../rpc/index.js";
import type { CliContext } from "./context.js";

export interface ShimClients {
  readonly address: string;
  readonly task: Client<typeof Task>;
  readonly images: Client<typeof Images>;
  readonly tasks: Client<typeof Tasks>;
  /** Closes the channel; calls in flight fail. */
  close(): void;
}

/** Seconds an auto-started daemon waits idle before it exits: `$NODEWASI_IDLE_TIMEOUT`, else 30. */
export function autoStartIdleTimeout(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.NODEWASI_IDLE_TIMEOUT);
  return env.NODEWASI_IDLE_TIMEOUT && Number.isInteger(n) && n >= 0 ? n : 30;
}

/**
 * How long a daemon this command started may take to listen. It boots in about 0.3 s, but it first waits for a
 * root's previous owner to finish stopping (root-claim.ts), and on a machine busy with two test suites 10 s
 * was not enough for both.
 */
const START_TIMEOUT_MS = 30_000;

/** Clients of the shim at `address`; no connection is made until the first call. */
export function shimClients(address: string): ShimClients {
  const channel = connectGrpc(address);
  const task = createClient(Task, channel);
  const images = createClient(Images, channel);
  const tasks = createClient(Tasks, channel);
  return {
    address,
    task,
    images,
    tasks,
    close() {
      for (const c of [task, images, tasks]) closeClient(c);
      channel.close();
    },
  };
}

/**
 * Clients of the shim at `address` when one listens there; else, with `start`, a daemon is started for
 * `ctx.root` and awaited, and without it the result is undefined. Throws FailedPrecondition when `ctx.root` is
 * owned by a daemon on another address (naming it), or when the daemon on `address` owns another root: one
 * daemon per root (DESIGN decision 18), and the command's root and daemon must agree.
 */
export async function connectShim(
  ctx: CliContext,
  address: string,
  opts: { start: boolean },
): Promise<ShimClients | undefined> {
  await checkOwner(ctx.root, address);
  if (!(await isListening(address))) {
    if (!opts.start) return undefined;
    await startDaemon(ctx, address);
    return shimClients(address);
  }
  const shim = shimClients(address);
  if (!opts.start) return shim;
  // A daemon that has just gone idle still has its socket while it stops: ask it, and start another if need
  // be (which waits for the stopping one to give the root up: shim/root-claim.ts).
  const answered = await shim.task.connect({ id: "" }, { timeoutMs: 3000 }).then(
    (r) => {
      ctx.logger.debug(`shim on ${address}`, { pid: r.shimPid, version: r.version });
      return true;
    },
    (err: unknown) => {
      if (ShimError.from(err).code !== Code.Unavailable) throw err;
      return false;
    },
  );
  if (answered) return shim;
  shim.close();
  await startDaemon(ctx, address);
  return shimClients(address);
}

/**
 * Launches `nodewasi shim serve` detached, its output appended to `shim.log` beside the socket, and waits on
 * its readiness pipe (internal/daemon-readiness.ts) until it serves or says why it cannot.
 */
async function startDaemon(ctx: CliContext, address: string): Promise<void> {
  const bin = fileURLToPath(new URL("../../../bin/nodewasi", import.meta.url));
  const logPath = join(dirname(address), "shim.log");
  await mkdir(dirname(address), { recursive: true, mode: 0o700 });
  const log = await open(logPath, "a", 0o600);
  const idle = autoStartIdleTimeout();
  const args = [bin, "--root", ctx.root, "--address", address, ...(ctx.debug ? ["--debug"] : [])];
  args.push("shim", "serve", "--idle-timeout", String(idle));
  ctx.logger.debug(`no shim listens on ${address}; starting one`, { idleTimeout: idle, log: logPath });
  const deadline = Date.now() + START_TIMEOUT_MS;
  let outcome: LaunchOutcome;
  try {
    // The daemon must not keep the command's working directory busy; references and paths reach it absolute.
    outcome = await launchDaemon({ args, cwd: "/", output: log.fd, timeoutMs: START_TIMEOUT_MS });
  } finally {
    await log.close();
  }
  if (outcome.state === "ready") return;
  // Two commands may start a daemon at once: the loser's refuses (the root is owned), while the winner gets
  // ready to serve on the same address.
  const owner = await readRootOwner(ctx.root);
  if (owner && !(await sameSocket(owner.address, address))) throw ownedBy(ctx.root, owner);
  if (owner && (await servesWithin(address, deadline - Date.now()))) return;
  throw new ShimError(
    Code.Unavailable,
    `the shim daemon started for ${address} ${notServing(outcome)}; see ${logPath}`,
    {
      ...(outcome.state === "failed" ? { cause: outcome.error } : {}),
      details: {
        hint: `read ${logPath}, or run \`nodewasi --address ${address} --debug shim serve\` in another terminal`,
      },
    },
  );
}

/** Why a launched daemon does not serve, as the end of a sentence about it. */
function notServing(outcome: Exclude<LaunchOutcome, { state: "ready" }>): string {
  switch (outcome.state) {
    case "failed":
      return `could not start: ${outcome.error.rawMessage}`;
    case "ended":
      return `ended (${outcome.status})`;
    case "silent":
      return `did not listen within ${START_TIMEOUT_MS / 1000} s`;
  }
}

/**
 * Whether the daemon another command started on `address` serves within `ms`: gRPC's own wait for a channel
 * to connect (it retries with backoff), not a poll of the socket.
 */
async function servesWithin(address: string, ms: number): Promise<boolean> {
  const shim = shimClients(address);
  try {
    await shim.task.connect({ id: "" }, { waitForReady: true, timeoutMs: Math.max(ms, 0) });
    return true;
  } catch {
    return false;
  } finally {
    shim.close();
  }
}

/** The refusals of `connectShim`: the root is another address's, or the address another root's. */
async function checkOwner(root: string, address: string): Promise<void> {
  const owner = await readRootOwner(root);
  if (owner) {
    // A stopping owner gives the root up soon; a daemon started now waits for it (shim/root-claim.ts).
    if (!owner.stopping && !(await sameSocket(owner.address, address))) throw ownedBy(root, owner);
    return;
  }
  // Every daemon owns its root before it listens, so one listening here while this root has no owner
  // serves another root.
  if (await isListening(address)) {
    throw new ShimError(
      Code.FailedPrecondition,
      `the nodewasi daemon on ${address} serves another state root than ${root}`,
      {
        details: {
          hint: `pass the --root that daemon was started with, or another --address for ${root}`,
        },
      },
    );
  }
}

/** Whether two socket paths name the same socket (an owner that did not say its address matches none). */
async function sameSocket(a: string, b: string): Promise<boolean> {
  if (!a) return false;
  if (a === b) return true;
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/** The codes grpc-js gives a call whose connection broke ("Connection dropped", "No connection established"). */
const LOSS_CODES = new Set([Code.Unavailable, Code.Internal, Code.Unknown]);

/**
 * Whether nothing listens on `address` within `ms`. A daemon killed mid-call drops its connections before the
 * kernel has closed its listening socket, and on a loaded machine the caller can look in between.
 */
async function stopsListening(address: string, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; ; ) {
    if (!(await isListening(address))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The error to report for a call to the daemon at `address` that failed while `doing` something (`the pull
 * of REF`): when nothing listens there any more, the daemon itself went away (it crashed or was killed) and
 * the call's own error (grpc-js says "Connection dropped", an Unavailable like a registry that cannot be
 * reached) would send the user after the registry. The daemon's log is named when it is where `nodewasi run`
 * starts daemons. Any other error is returned unchanged.
 */
export async function explainShimLoss(err: unknown, address: string, doing: string): Promise<unknown> {
  const e = ShimError.from(err);
  if (!LOSS_CODES.has(e.code) || !(await stopsListening(address, 1000))) return err;
  const log = join(dirname(address), "shim.log");
  const logged = await pathExists(log);
  const where = logged
    ? `; see its log, ${log}, for why`
    : "; see the output of the `nodewasi shim serve` that served it for why";
  return new ShimError(
    Code.Internal,
    `the shim daemon on ${address} went away during ${doing} (${e.rawMessage})${where}, then try again: a new daemon starts by itself`,
    { cause: err },
  );
}

/**
 * Clients of the shim at `address`, for commands about existing tasks (kill, rm): NotFound naming `what`
 * when nothing listens there, since tasks do not outlive their shim.
 */
export async function connectExisting(ctx: CliContext, address: string, what: string): Promise<ShimClients> {
  const shim = await connectShim(ctx, address, { start: false });
  if (shim) return shim;
  throw new ShimError(Code.NotFound, `${what}: no nodewasi shim listens on ${address}, so no task exists`, {
    details: { hint: "list tasks with `nodewasi ps -a`; pass the --address that `nodewasi run` used" },
  });
}
