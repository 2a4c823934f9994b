/**
 * The daemon's Task server on its socket, over the transport its bootstrap mode names (bootstrap.ts): ttrpc by
 * default, gRPC for `grpc-v2` / `grpc-v3`. Both register `containerd.task.v2.Task` and `containerd.task.v3.Task`
 * (identical messages, DESIGN decision 1): 1.7 calls v3 over gRPC, 2.x picks by the version it was told.
 */
import { TASK_NAMES, Task } from "../gen/index.js";
import type { Logger } from "../internal/index.js";
import { addService, type ServiceImpl, serveGrpc, serveTtrpc, shutdownServer } from "../rpc/index.js";
import type { DaemonServer } from "../shim/index.js";
import { type BootstrapMode, transportOf } from "./bootstrap.js";

/**
 * Serves `tasks` on the unix socket `path`; throws the listen's `ShimError` (nothing left open then). Closing
 * it removes the socket file.
 */
export async function serveTasks(
  mode: BootstrapMode,
  path: string,
  tasks: ServiceImpl<typeof Task>,
  logger: Logger,
): Promise<DaemonServer> {
  if (transportOf(mode) === "ttrpc") {
    const server = await serveTtrpc(path, (s) => s.register(Task, tasks, { names: TASK_NAMES }), { logger });
    return { close: (graceMs) => server.close(graceMs) };
  }
  const server = await serveGrpc(path, (s) => addService(s, Task, tasks, { names: TASK_NAMES, logger }));
  return { close: (graceMs) => shutdownServer(server, graceMs) };
}
