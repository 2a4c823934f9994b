/**
 * Holds each task's stdin FIFO open (O_RDWR) from Create until Start has answered, as runc's shim holds its
 * stdin O_RDONLY|O_NONBLOCK from Create on (containerd/containerd@v1.6.20:pkg/process/io.go).
 *
 * Why: ctr opens the write end of stdin lazily and closes it as soon as its own stdin ends, which with
 * `ctr run ... </dev/null` happens before Start. A runner that then opens the FIFO O_RDONLY (blocking, so
 * the guest never sees EAGAIN: DESIGN decision 7) would wait forever for a writer. With the shim's handle
 * open the runner's open returns at once; once the shim lets go, the guest reads what ctr wrote and then
 * EOF, exactly as if it had opened the FIFO in time.
 */
import { constants } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import type { ServiceImpl, Task } from "../gen/index.js";
import type { TaskService } from "../shim/index.js";

type Impl = ServiceImpl<typeof Task>;

/** `tasks` with create, exec, start and delete wrapped to hold the stdin FIFOs. */
export function withStdinHolder(tasks: TaskService): Impl {
  const held = new Map<string, FileHandle>();
  const key = (id: string, execId: string) => `${id}\0${execId}`;
  const hold = async (k: string, path: string) => {
    if (!path || !(await stat(path).catch(() => undefined))?.isFIFO()) return;
    const fh = await open(path, constants.O_RDWR | constants.O_NONBLOCK).catch(() => undefined);
    if (fh) held.set(k, fh);
  };
  const release = async (k: string) => {
    const fh = held.get(k);
    held.delete(k);
    await fh?.close().catch(() => {});
  };
  const impl: Record<string, unknown> = {};
  for (const name of Object.keys(tasks)) {
    const value = (tasks as unknown as Record<string, unknown>)[name];
    if (typeof value === "function") impl[name] = value;
  }
  const wrapped: Partial<Impl> = {
    create: async (req, ctx) => {
      await hold(key(req.id, ""), req.stdin);
      try {
        return await tasks.create(req, ctx);
      } catch (err) {
        await release(key(req.id, ""));
        throw err;
      }
    },
    exec: async (req, ctx) => {
      await hold(key(req.id, req.execId), req.stdin);
      try {
        return await tasks.exec(req, ctx);
      } catch (err) {
        await release(key(req.id, req.execId));
        throw err;
      }
    },
    start: async (req, ctx) => {
      try {
        return await tasks.start(req, ctx);
      } finally {
        await release(key(req.id, req.execId));
      }
    },
    delete: async (req, ctx) => {
      const res = await tasks.delete(req, ctx);
      await release(key(req.id, req.execId));
      if (!req.execId) for (const k of [...held.keys()]) if (k.startsWith(`${req.id}\0`)) await release(k);
      return res;
    },
  };
  return { ...impl, ...wrapped } as Impl;
}
