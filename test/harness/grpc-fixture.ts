/**
 * Small services for the transport tests, made from the generated descriptors: a Task service whose `wait`
 * blocks until `kill` (so calls run concurrently), and an Images service whose `pull` streams progress. Every
 * RPC they do not implement answers Unimplemented, as the real shim does for Checkpoint.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { anyUnpack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type * as grpc from "@grpc/grpc-js";
import { CreateOptionsSchema, Images, Status, Task } from "../../src/gen/index.js";
import { invalidArgument, notFound, unimplemented } from "../../src/internal/index.js";
import { createGrpcServer, shutdownServer } from "../../src/rpc/grpc-server.js";
import { listenUnix } from "../../src/rpc/listen-unix.js";
import type { CallContext, ServiceImpl } from "../../src/rpc/service.js";

/** An implementation of `desc` where every RPC throws Unimplemented; spread it and override some. */
export function unimplementedService<S extends DescService>(desc: S): ServiceImpl<S> {
  const impl: Record<string, () => never> = {};
  for (const m of desc.methods) {
    impl[m.localName] = () => {
      throw unimplemented(`${m.name} is not implemented by this test service`);
    };
  }
  return impl as unknown as ServiceImpl<S>;
}

/** What the fake Task service saw. */
export interface TaskLog {
  created: { id: string; image: string }[];
  metadata: Record<string, string[]>[];
  /** RPCs that ended by cancellation or deadline. */
  aborted: string[];
}

/** A Task service for one task id at a time: create, start, wait (blocks until kill), state, kill, connect. */
export function fakeTask(
  log: TaskLog = { created: [], metadata: [], aborted: [] },
): ServiceImpl<typeof Task> {
  const exits = new Map<string, { status: number; at: Date }>();
  const waiters = new Map<string, (() => void)[]>();
  const known = (id: string) => {
    if (!log.created.some((c) => c.id === id)) throw notFound(`task ${id} not found`);
  };
  return {
    ...unimplementedService(Task),
    async create(req, ctx) {
      log.metadata.push(ctx.metadata);
      const options = req.options ? anyUnpack(req.options, CreateOptionsSchema) : undefined;
      log.created.push({ id: req.id, image: options?.image ?? "" });
      return { pid: 42 };
    },
    async start(req) {
      known(req.id);
      return { pid: 42 };
    },
    async kill(req) {
      known(req.id);
      exits.set(req.id, { status: 128 + req.signal, at: new Date() });
      for (const wake of waiters.get(req.id) ?? []) wake();
      return {};
    },
    async wait(req, ctx) {
      known(req.id);
      if (!exits.has(req.id)) await until(ctx, "wait", log, (wake) => waiters.set(req.id, [wake]));
      const exit = exits.get(req.id)!;
      return { exitStatus: exit.status, exitedAt: timestampFromDate(exit.at) };
    },
    async state(req) {
      known(req.id);
      const exit = exits.get(req.id);
      return {
        id: req.id,
        pid: 42,
        status: exit ? Status.STOPPED : Status.RUNNING,
        exitStatus: exit?.status ?? 0,
      };
    },
    async connect(_req, ctx) {
      return { shimPid: process.pid, taskPid: 42, version: (ctx.metadata["x-test"] ?? []).join(",") };
    },
  };
}

/** Resolves when `register`'s callback is called; rejects (and logs `name`) when the call is aborted. */
function until(ctx: CallContext, name: string, log: TaskLog, register: (wake: () => void) => void) {
  return new Promise<void>((resolve, reject) => {
    register(resolve);
    ctx.signal.addEventListener("abort", () => {
      log.aborted.push(name);
      reject(ctx.signal.reason);
    });
  });
}

/** What the fake Images service saw. */
export interface ImagesLog {
  /** How many messages a pull had produced when the client went away. */
  cancelledAfter: number[];
}

/**
 * An Images service: `pull` of "count:N" streams N progress messages then a result; of "forever" streams
 * until cancelled; of "fail:N" streams N then throws InvalidArgument; `get` of anything is NotFound;
 * `list` throws a plain Error (a bug, seen as Unknown).
 */
export function fakeImages(log: ImagesLog = { cancelledAfter: [] }): ServiceImpl<typeof Images> {
  return {
    ...unimplementedService(Images),
    async *pull(req, ctx) {
      const [mode, n] = req.reference.split(":");
      let sent = 0;
      try {
        for (; mode === "forever" || sent < Number(n); sent++) {
          if (ctx.signal.aborted) return;
          yield {
            event: { case: "blobProgress", value: { digest: "sha256:x", size: 1000n, done: BigInt(sent) } },
          };
          if (mode === "forever") await new Promise((r) => setTimeout(r, 2));
        }
        if (mode === "fail") throw invalidArgument(`bad reference ${req.reference}`);
        yield { event: { case: "result", value: { name: req.reference, digest: "sha256:r" } } };
      } finally {
        if (ctx.signal.aborted) log.cancelledAfter.push(sent);
      }
    },
    async get(req) {
      throw notFound(`${req.name} is not in the store; run \`nodewasi pull ${req.name}\``);
    },
    async list() {
      throw new Error("store index is corrupt");
    },
  };
}

/** A server on a unix socket in a fresh temp dir, serving the given services; `close` removes everything. */
export async function startGrpcFixture(
  services: (server: grpc.Server) => void,
): Promise<{ server: grpc.Server; dir: string; socket: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-rpc-"));
  const socket = join(dir, "run", "shim.sock");
  const server = createGrpcServer();
  services(server);
  await listenUnix(server, socket);
  return {
    server,
    dir,
    socket,
    async close() {
      await shutdownServer(server, 100);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
