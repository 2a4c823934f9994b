/**
 * The whole path, as a user of nodewasi takes it: each test packaged as an OCI image by the library's builder
 * (module at `/NAME.wasm`, the test's root folder in the same tar layer, so it becomes the container's rootfs,
 * which the shim preopens as `/`), pushed to a private docker-registry, then run by a real shim process
 * through the Task API (Create with `nodewasi.v1.CreateOptions{image, args, env}`: the shim pulls the image
 * itself; Wait, Start, Wait, Delete), with stdout and stderr to files. One registry and one shim serve every
 * case of a run.
 */
import { Task } from "../../src/gen/index.js";
import { Code, ShimError } from "../../src/internal/index.js";
import { buildImage } from "../../src/oci/index.js";
import type { Client } from "../../src/rpc/index.js";
import { pushBuilt, type Registry, registrySkipReason, startRegistry } from "../harness/index.js";
import { type ShimHandle, startShim } from "../harness/shim.js";
import { runTask } from "../harness/task-kit.js";
import type { Outcome } from "./direct.js";
import type { ConformanceCase } from "./suite.js";
import { modulePath, type TreeEntry, tarEntries } from "./tree.js";

export class ShimPath {
  #serial = 0;
  private constructor(
    private readonly registry: Registry,
    private readonly shim: ShimHandle,
    private readonly task: Client<typeof Task>,
    private readonly timeoutMs: number,
  ) {}

  /** Why the whole path cannot run here (a missing Debian package), or undefined. */
  static skipReason(): string | undefined {
    return registrySkipReason();
  }

  /**
   * Starts a registry and a shim on this machine's loopback, in temp folders. A Task API call (the Wait for the
   * guest's exit included) fails after `timeoutMs`.
   */
  static async start(timeoutMs: number): Promise<ShimPath> {
    const registry = await startRegistry();
    let shim: ShimHandle;
    try {
      shim = await startShim({ debug: false });
    } catch (err) {
      await registry.stop();
      throw err;
    }
    return new ShimPath(registry, shim, shim.client(Task, { timeoutMs }), timeoutMs);
  }

  /** The image reference a case is pushed under: `HOST/conformance/<id>` made a valid repository name. */
  reference(c: ConformanceCase): string {
    const repo = c.id
      .toLowerCase()
      .split("/")
      .map((part) => part.replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "") || "x")
      .join("/");
    return `${this.registry.host}/conformance/${repo}:latest`;
  }

  /** Builds, pushes and runs `c` through the shim. Throws when a step before the guest's exit fails. */
  async run(c: ConformanceCase, tree: readonly TreeEntry[], module: Buffer): Promise<Outcome> {
    const image = this.reference(c);
    const built = buildImage({
      module,
      format: "image",
      entrypoint: modulePath(c),
      files: tarEntries(tree),
    });
    await pushBuilt(this.registry.host, image.slice(this.registry.host.length + 1), built);
    const id = `conformance-${++this.#serial}`;
    try {
      const run = await runTask(this.task, id, image, {
        args: c.spec.args,
        env: Object.entries(c.spec.env).map(([k, v]) => `${k}=${v}`),
      });
      return { exitCode: run.exitStatus, stdout: run.stdout, stderr: run.stderr };
    } catch (err) {
      // A guest that outlived the Wait (or a Start that failed) must not keep running beside the next cases.
      await this.task.kill({ id, signal: 9 }).catch(() => {});
      await this.task.delete({ id }).catch(() => {});
      // Said without the socket's temp path, so a report that holds it stays the same from run to run.
      if (err instanceof ShimError && err.code === Code.DeadlineExceeded) {
        throw new Error(`timed out after ${this.timeoutMs / 1000} s through the shim`, { cause: err });
      }
      throw err;
    }
  }

  /** The shim's own log so far (errors only: it runs without --debug), for failure messages. */
  shimLog(): string {
    return this.shim.stderr();
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.shim.stop(), this.registry.stop()]);
  }
}
