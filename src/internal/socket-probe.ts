/**
 * Probing a unix socket without any transport: a leaf helper, so that `containerd-shim-nodewasi-v1 start`
 * (a short-lived process on containerd's critical path) can ask whether a shim listens without loading
 * rpc/ and @grpc/grpc-js.
 */
import { connect } from "node:net";

/**
 * Whether a server accepts connections on the unix socket at `path` (ENOENT or ECONNREFUSED: no; a
 * leftover socket file of a dead server is refused). Go's shims call this `CanConnect`.
 */
export function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
