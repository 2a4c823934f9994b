/**
 * Who owns a state root (DESIGN decision 18: one owning daemon per root): the owner listens on the unix socket
 * `<root>/owner.sock` for its whole life and tells anyone who connects its pid and address. A listening socket
 * is a lock the kernel releases: when the owner dies, however it dies, connecting is refused, so an owner that
 * is gone is never taken for a live one (no pid to be reused, no heartbeat to miss). Taking ownership is
 * `claimRoot` (shim/root-claim.ts); this is the reading half, a leaf so that CLI commands can ask cheaply.
 */
import { closeSync, constants, openSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { Code, ShimError } from "./shim-error.js";

/** The owner's socket, in the root. */
export const OWNER_SOCKET = "owner.sock";

/** What an owner says about itself. */
export interface RootOwner {
  /** Its pid; 0 when it did not say (it listens, but did not answer in time). */
  pid: number;
  /** The unix socket it serves the Task API on; "" when it did not say. */
  address: string;
  /** It is stopping: its tasks are being deleted, and it gives the root up once done. */
  stopping: boolean;
  /** Random, one per claim: tells this ownership from a later one at the same path (inodes are reused). */
  token?: string;
}

/** What `probeRootOwner` found: nobody, a socket nobody listens on (its owner died), or a live owner. */
export type OwnerProbe = { state: "none" } | { state: "dead" } | { state: "live"; owner: RootOwner };

/** How long a live owner has to answer before it is reported without pid and address. */
const ANSWER_MS = 5000;

/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * Runs `use` with a path that reaches `dir/name` as a unix socket address: the path itself when it fits in
 * sun_path, else `/proc/self/fd/N/name` through a descriptor of `dir` (a deep root still gets an owner
 * socket), kept open until `use` settles.
 */
export async function withSocketPath<T>(
  dir: string,
  name: string,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const path = join(dir, name);
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return use(path);
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return await use(`/proc/self/fd/${fd}/${name}`);
  } finally {
    closeSync(fd);
  }
}

/** Asks the owner of `root`, if any, who it is. Never throws for a missing root or socket. */
export function probeRootOwner(root: string): Promise<OwnerProbe> {
  return withSocketPath(root, OWNER_SOCKET, ask).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return { state: "none" } as const;
    throw err;
  });
}

/** The live owner of `root`, or undefined when it has none (or its owner died). */
export async function readRootOwner(root: string): Promise<RootOwner | undefined> {
  const probe = await probeRootOwner(root);
  return probe.state === "live" ? probe.owner : undefined;
}

function ask(path: string): Promise<OwnerProbe> {
  return new Promise((resolve) => {
    const socket: Socket = connect(path);
    let text = "";
    let connected = false;
    const unknown: RootOwner = { pid: 0, address: "", stopping: false };
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ state: "live", owner: unknown });
    }, ANSWER_MS);
    timer.unref();
    socket.setEncoding("utf8");
    socket.on("connect", () => (connected = true));
    socket.on("data", (d: string) => {
      text += d;
    });
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ state: "live", owner: parseOwner(text) ?? unknown });
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (connected) resolve({ state: "live", owner: parseOwner(text) ?? unknown });
      else if (err.code === "ENOENT" || err.code === "ENOTDIR") resolve({ state: "none" });
      // ECONNREFUSED: a socket file whose listener is gone. Anything else (EACCES) is not ours to judge: live.
      else if (err.code === "ECONNREFUSED") resolve({ state: "dead" });
      else resolve({ state: "live", owner: unknown });
    });
  });
}

function parseOwner(text: string): RootOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<RootOwner>;
    if (typeof o.pid !== "number" || typeof o.address !== "string") return undefined;
    return {
      pid: o.pid,
      address: o.address,
      stopping: o.stopping === true,
      ...(typeof o.token === "string" ? { token: o.token } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The refusal to use a root another daemon owns: FailedPrecondition naming the owner and what to do. */
export function ownedBy(root: string, owner: RootOwner): ShimError {
  const who = owner.pid ? `the nodewasi daemon with pid ${owner.pid}` : "another nodewasi daemon";
  const where = owner.address ? ` serving ${owner.address}` : "";
  const hint = owner.address
    ? `use that daemon: pass \`--address ${owner.address}\` (it serves this root), or give this one another --root`
    : "stop the other daemon, or give this one another --root";
  return new ShimError(
    Code.FailedPrecondition,
    `the state root ${root} is owned by ${who}${where}${owner.stopping ? ", which is still stopping" : ""}; a root has one daemon at a time`,
    { details: { hint, ownerPid: owner.pid, ownerAddress: owner.address } },
  );
}
