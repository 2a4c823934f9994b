/**
 * Taking a state root for a daemon's life (DESIGN decision 18): one daemon owns a root at a time, because its
 * tasks' folders (`<root>/tasks/<id>`) and detached logs (`<root>/logs/<id>.log`) are named by task id only,
 * and two daemons on one root mixed them (one task's rootfs holding both modules, one's `rm` deleting the
 * other's files). The owner listens on `<root>/owner.sock` (internal/root-owner.ts) until it releases the root
 * or dies; a second claimant refuses, naming the first one's pid and address, or waits while the first one
 * says it is stopping.
 *
 * Claims are serialised by the lock file `<root>/owner.lock`, held only while a claimant looks at the socket
 * and binds its own: without it, two claimants could both find a dead owner's socket, and the second would
 * unlink the first one's fresh socket. Owning the root also means no live task can own what is in
 * `<root>/tasks` when the claim succeeds: the caller may remove it (task-dirs.ts).
 */
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, readdir, unlink } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import {
  Code,
  OWNER_SOCKET,
  ownedBy,
  probeRootOwner,
  type RootOwner,
  readRootOwner,
  ShimError,
  sleep,
  withSocketPath,
} from "../internal/index.js";

/** The lock file that serialises claims. */
const OWNER_LOCK = "owner.lock";

/** How long a claimant waits for an owner that says it is stopping (its tasks are deleted first). */
const STOPPING_WAIT_MS = 15_000;
/** How long a claimant waits for the claim lock (held by another claimant for milliseconds). */
const LOCK_WAIT_MS = 10_000;
const POLL_MS = 100;

export interface ClaimOptions {
  /** The address this owner serves, told to whoever asks. */
  address: string;
  /** How long to wait for an owner that is stopping; default 15 s. */
  stoppingWaitMs?: number;
}

/** A root held by this process. */
export interface RootOwnership {
  readonly root: string;
  /** Tells later claimants that this owner is stopping, so they wait for it rather than refuse. */
  markStopping(): void;
  /** Gives the root up (idempotent): the socket is unlinked while it still listens, then closed. */
  release(): Promise<void>;
}

/**
 * Takes `root` (made 0700 if missing) for this process. Throws FailedPrecondition naming the live owner (pid
 * and address) when another process owns it and is not stopping, or still owns it `stoppingWaitMs` after it
 * said it was stopping.
 */
export async function claimRoot(root: string, o: ClaimOptions): Promise<RootOwnership> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + (o.stoppingWaitMs ?? STOPPING_WAIT_MS);
  for (;;) {
    const signal = AbortSignal.timeout(LOCK_WAIT_MS);
    // Loaded here, not with the module: containerd's daemons (which own no root) must not load oci/.
    const { acquireLock } = await import("../oci/index.js");
    const lock = await acquireLock(join(root, OWNER_LOCK), { signal }).catch((err: unknown) => {
      if (!signal.aborted) throw err;
      throw new ShimError(
        Code.DeadlineExceeded,
        `taking the state root ${root}: ${join(root, OWNER_LOCK)} stayed locked for ${LOCK_WAIT_MS / 1000} s`,
        { cause: err, details: { hint: `another nodewasi daemon is starting on ${root}; try again` } },
      );
    });
    let owner: RootOwner | undefined;
    try {
      const probe = await probeRootOwner(root);
      if (probe.state !== "live") {
        // A socket nobody listens on was left by an owner that died: no one else may remove it while we hold
        // the lock, so it is still that dead one's.
        if (probe.state === "dead") await unlink(join(root, OWNER_SOCKET)).catch(ignoreMissing);
        await removeBoundNames(root);
        return await serveOwner(root, o.address);
      }
      owner = probe.owner;
    } finally {
      await lock?.release();
    }
    if (!owner.stopping || Date.now() > deadline) throw ownedBy(root, owner);
    await sleep(POLL_MS);
  }
}

async function serveOwner(root: string, address: string): Promise<RootOwnership> {
  const info: RootOwner = {
    pid: process.pid,
    address,
    stopping: false,
    token: randomBytes(8).toString("hex"),
  };
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.end(`${JSON.stringify(info)}\n`);
  });
  // Bound under a name of its own, then linked into place: libuv unlinks a server's bound path when it
  // closes, which must never be `owner.sock` (it may be a later owner's by then). link fails rather than
  // replace a socket that appeared meanwhile.
  const bound = `${OWNER_SOCKET}.${info.token}`;
  await withSocketPath(root, bound, (path) => listen(server, path));
  // The daemon's own servers keep it alive; this one must not keep a process that is otherwise done.
  server.unref();
  const path = join(root, OWNER_SOCKET);
  try {
    await chmod(join(root, bound), 0o600);
    await link(join(root, bound), path);
  } catch (err) {
    await new Promise<void>((r) => server.close(() => r()));
    throw err;
  } finally {
    await unlink(join(root, bound)).catch(() => {});
  }
  let released: Promise<void> | undefined;
  return {
    root,
    markStopping() {
      info.stopping = true;
    },
    release() {
      released ??= (async () => {
        // Only our own socket: if the root was removed and claimed again meanwhile, the name is another's.
        const now = await readRootOwner(root);
        if (now?.token === info.token) await unlink(path).catch(ignoreMissing);
        await new Promise<void>((r) => server.close(() => r()));
      })();
      return released;
    },
  };
}

/** Removes the names a claimant that died between binding and linking left (`owner.sock.<token>`). */
async function removeBoundNames(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (name.startsWith(`${OWNER_SOCKET}.`)) await unlink(join(root, name)).catch(ignoreMissing);
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== "ENOENT") throw err;
}
