/**
 * `containerd-shim-nodewasi-v1 ... start` (reference containerd-shim-protocol.md §1.2-1.4, runc's manager
 * `Start`): containerd runs it in the bundle with `CombinedOutput`, so it must print ONLY the address on
 * stdout, nothing on stderr, and exit 0 leaving a detached daemon that serves ttrpc on that address (or,
 * opted in by NODEWASI_SHIM_BOOTSTRAP, a JSON reply and gRPC: bootstrap.ts).
 *
 * 1. stdin is read to EOF and ignored (an `Any` of runtime options up to 2.2, `BootstrapParams` from 2.3).
 * 2. The socket is `/run/containerd/s/<sha256(address/namespace/group)>` (socket-address.ts: one daemon per
 *    namespace, or per pod).
 * 3. A live shim of the same group already listening there is reused, with the reply it recorded when it
 *    started; `start` claims it first, so that a daemon going idle meanwhile serves on (daemon-socket.ts). The
 *    shell front of the binary does this step without Node when the daemon's record says it is alive.
 * 4. Otherwise this binary is re-run as `serve` with `process.execPath`, detached (`setsid`), stdio to
 *    /dev/null (inheriting containerd's pipes would hang `CombinedOutput`), and `start` waits on its readiness
 *    pipe (internal/daemon-readiness.ts): `ready` once it listens, or why it could not.
 * 5. The daemon's pid goes to `shim.pid` in the bundle, for `delete` to kill what a daemon that died left in its
 *    process group (never a live daemon's: it serves other tasks).
 * 6. The `unix://` address is written atomically to `address` in the bundle (`.address` O_CREAT|O_EXCL|O_SYNC,
 *    then rename), also under gRPC: Go shims write only the address there, and containerd 1.7+ keeps the JSON
 *    reply in its own `bootstrap.json`, reading `address` only to migrate a shim that has none (as ttrpc).
 */
import { constants } from "node:fs";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Code, isListening, launchDaemon, ShimError } from "../internal/index.js";
import { bootstrapMode, recordedReply, startReply } from "./bootstrap.js";
import { claimDaemon, recordedDaemon } from "./daemon-socket.js";
import type { ShimFlags } from "./shim-flags.js";
import { groupingId, socketAddress, socketPath } from "./socket-address.js";

/** How long `start` waits for the daemon to listen. containerd's own start timeout is longer. */
const READY_TIMEOUT_MS = 20_000;

export interface StartOptions {
  /** The script to re-run as the daemon (the bin launcher, `process.argv[1]`). */
  script: string;
  /** The bundle (containerd runs `start` with the bundle as cwd). */
  bundle: string;
  stdin?: NodeJS.ReadableStream;
  /** Where NODEWASI_SHIM_BOOTSTRAP and MAX_SHIM_VERSION are read (bootstrap.ts); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Runs `start`; resolves with the address to print. Throws a ShimError when no daemon could be started. */
export async function shimStart(flags: ShimFlags, o: StartOptions): Promise<string> {
  if (o.stdin) await drain(o.stdin);
  if (!flags.id) throw new ShimError(Code.InvalidArgument, "start: -id is required");
  if (!flags.namespace) throw new ShimError(Code.InvalidArgument, "start: -namespace is required");
  const mode = bootstrapMode(o.env ?? process.env);
  const group = await groupingId(o.bundle);
  const path = socketPath(flags.address, flags.namespace, group);
  let reply: string;
  await claimDaemon(path);
  if (await isListening(path)) reply = await reuse(path, o.bundle);
  else {
    const outcome = await spawnDaemon(flags, o, path);
    // Two starts of one group may race; the loser's daemon finds the winner listening.
    if (outcome !== "ready" && !(outcome instanceof ShimError && outcome.code === Code.AlreadyExists)) {
      throw outcome;
    }
    reply = outcome === "ready" ? startReply(mode, path) : await reuse(path, o.bundle);
  }
  await writeAddress(o.bundle, socketAddress(path));
  return reply;
}

/** The reply of the live daemon on `path`, its pid recorded in `bundle`. */
async function reuse(path: string, bundle: string): Promise<string> {
  const reply = await recordedReply(path);
  const pid = await recordedDaemon(path);
  if (pid !== undefined) await writeShimPid(bundle, pid);
  return reply;
}

async function spawnDaemon(flags: ShimFlags, o: StartOptions, path: string): Promise<"ready" | ShimError> {
  const args = [
    ...process.execArgv,
    o.script,
    "-namespace",
    flags.namespace,
    "-id",
    flags.id,
    "-address",
    flags.address,
    "-publish-binary",
    flags.publishBinary,
    "-bundle",
    o.bundle,
    "-socket",
    path,
    ...(flags.debug ? ["-debug"] : []),
    "serve",
  ];
  const outcome = await launchDaemon({
    args,
    cwd: o.bundle,
    output: "ignore",
    timeoutMs: READY_TIMEOUT_MS,
    ...(o.env ? { env: o.env } : {}),
  });
  switch (outcome.state) {
    case "ready":
      await writeShimPid(o.bundle, outcome.pid);
      return "ready";
    case "failed":
      return outcome.error;
    case "ended":
      return new ShimError(Code.Internal, `the shim daemon exited before listening (${outcome.status})`);
    case "silent":
      return new ShimError(
        Code.DeadlineExceeded,
        `the shim daemon did not listen within ${READY_TIMEOUT_MS} ms`,
      );
  }
}

/** Read by `delete` to kill what a daemon that died left in its process group; best effort. */
async function writeShimPid(bundle: string, pid: number): Promise<void> {
  await writeFile(join(bundle, "shim.pid"), String(pid)).catch(() => {});
}

/** Writes `<bundle>/address` atomically, as Go's `shim.WriteAddress` does. */
export async function writeAddress(bundle: string, address: string): Promise<void> {
  const tmp = join(bundle, ".address");
  await rm(tmp, { force: true });
  const fh = await open(
    tmp,
    constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_SYNC,
    0o644,
  );
  try {
    await fh.writeFile(address);
  } finally {
    await fh.close();
  }
  await rename(tmp, join(bundle, "address"));
}

async function drain(stream: NodeJS.ReadableStream): Promise<void> {
  try {
    for await (const _ of stream) {
      // Options are ignored: nodewasi has none containerd could pass yet.
    }
  } catch {
    // A closed or broken stdin is as good as an empty one.
  }
}
