/**
 * `nodewasi.v1.Tasks`: what `nodewasi ps` shows. containerd keeps its own task list; a standalone shim has
 * nobody else to ask, so it lists its containers itself.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl, Tasks } from "../gen/index.js";
import { notFound } from "../internal/index.js";
import type { Container, TaskService } from "./task-service.js";

type Impl = ServiceImpl<typeof Tasks>;

function info(c: Container) {
  const p = c.init;
  return {
    id: c.id,
    pid: p.pid,
    status: p.status,
    image: c.image,
    createdAt: timestampFromDate(c.createdAt),
    exitStatus: p.exit?.code ?? 0,
    ...(p.exit ? { exitedAt: timestampFromDate(p.exit.at) } : {}),
    bundle: c.setup.bundle,
    stdin: p.info.stdio.stdin,
    stdout: p.info.stdio.stdout,
    stderr: p.info.stdio.stderr,
    args: p.info.spec.args,
    execIds: [...c.execs.keys()],
  };
}

export class TasksService implements Impl {
  readonly #tasks: TaskService;

  constructor(tasks: TaskService) {
    this.#tasks = tasks;
  }

  list: Impl["list"] = async (req) => {
    if (req.id) {
      const c = this.#tasks.containers.get(req.id);
      if (!c) throw notFound(`task ${req.id} not found`);
      return { tasks: [info(c)] };
    }
    return { tasks: [...this.#tasks.containers.values()].map(info) };
  };
}
