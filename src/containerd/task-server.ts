/**
 * The daemon's Task server on its socket, over the transport its bootstrap mode names (bootstrap.ts): ttrpc by
 * default, gRPC for `grpc-v2` / `grpc-v3`. Both register `containerd.task.v2.Task` and `containerd.task.v3.Task`
 * (identical messages, DESIGN decision 1): 1.7 calls v3 over gRPC, 2.x picks by the version it was told.
 */
import type * as grpc from "@grpc/grpc-js";
import { TASK_NAMES, Task } from "../gen/index.js";
import type { Logger } from "../internal/index.js";
import {
  addService,
  createGrpcServer,
  listenUnix,
  type ServiceImpl,
  serveTtrpc,
  shutdownServer,
} from "../rpc/index.js";
import { type BootstrapMode, transportOf } from "./bootstrap.js";

export interface TaskServer {
  /** Stops taking calls; running ones get `graceMs` to answer. Node removes the socket file. */
  close(graceMs: number): Promise<void>;
}

/** Serves `tasks` on the unix socket `path`; throws the listen's `ShimError` (nothing left open then). */
export async function serveTasks(
  mode: BootstrapMode,
  path: string,
  tasks: ServiceImpl<typeof Task>,
  logger: Logger,
): Promise<TaskServer> {
  if (transportOf(mode) === "ttrpc") {
    const server = await serveTtrpc(path, (s) => s.register(Task, tasks, { names: TASK_NAMES }), { logger });
    return { close: (graceMs) => server.close(graceMs) };
  }
  const server: grpc.Server = createGrpcServer();
  addService(server, Task, tasks, { names: TASK_NAMES, logger });
  try {
    await listenUnix(server, path);
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  return { close: (graceMs) => shutdownServer(server, graceMs) };
}
