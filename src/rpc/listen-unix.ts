/**
 * Binding a server (gRPC here, ttrpc in ttrpc-server.ts through `prepareUnixSocket`) to a unix socket the way
 * a shim must: only its owner may connect (folder 0700 when created here, socket 0600), a socket left by a
 * dead server is replaced, a live one is never stolen.
 */

import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { Code, isListening, ShimError } from "../internal/index.js";
import { grpcJs } from "./grpc-js.js";

/** Re-exported: the probe lives in internal, where `shim start` reaches it without loading grpc-js. */
export { isListening };

/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * Binds `server` to the unix socket at `path` (absolute) and resolves once it accepts calls. Creates missing
 * folders with mode 0700 (an existing folder is left as it is), removes a stale socket that nobody listens
 * on, and makes the socket 0600. Throws `ShimError`: InvalidArgument for a relative or too long path,
 * AlreadyExists when a server already listens there, FailedPrecondition when something that is not a socket
 * is in the way, or the bind error.
 */
export async function listenUnix(server: grpc.Server, path: string): Promise<void> {
  await prepareUnixSocket(path);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${path}`, grpcJs().ServerCredentials.createInsecure(), (err) =>
      err ? reject(ShimError.from(err, Code.Unavailable)) : resolve(),
    );
  });
  await chmod(path, 0o600);
}

/**
 * The checks and preparation before any server binds `path`, shared by the transports: `path` is absolute and
 * fits in sun_path, missing folders are created 0700, a stale socket is removed. Throws `ShimError`s as
 * `listenUnix` does; the caller binds, then makes the socket 0600.
 */
export async function prepareUnixSocket(path: string): Promise<void> {
  if (!path.startsWith("/")) throw new ShimError(Code.InvalidArgument, `socket path ${path} is not absolute`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ShimError(
      Code.InvalidArgument,
      `socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes; choose a shorter state directory`,
    );
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await removeStale(path);
}

async function removeStale(path: string): Promise<void> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!stat) return;
  if (!stat.isSocket()) {
    throw new ShimError(
      Code.FailedPrecondition,
      `${path} exists and is not a socket; remove it or pick another path`,
    );
  }
  if (await isListening(path)) {
    throw new ShimError(Code.AlreadyExists, `a server is already listening on ${path}`);
  }
  await unlink(path);
}
