/**
 * The `protocol: grpc` bootstrap opt-in (src/containerd/bootstrap.ts), tested against the contract rather than
 * a containerd: Debian's 1.6.20 reads only plain addresses. What containerd 1.7 and 2.x do with the reply
 * (reference containerd-shim-protocol.md §1.3 and §3, `containerd/containerd@v1.7.0:runtime/v2/shim.go`
 * `parseStartResponse` / `makeConnection`, `@v2.0.0:core/runtime/v2/shim.go` `grpcDialContext`): unmarshal
 * `{"version","address","protocol"}`, dial `"unix://" + address` with gRPC, and call `containerd.task.v3.Task`
 * (1.7; 2.x picks v3 for version 3). This test does the same with grpc-js on the address `start` printed and
 * runs a real task through it.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { CreateOptionsSchema, Task } from "../src/gen/index.js";
import { closeClient, createClient } from "../src/rpc/index.js";
import { REPO_DIR } from "./harness/containerd.js";
import { alive, runShimBinary, startFlags } from "./harness/shim-binary.js";
import { until } from "./harness/task-kit.js";

interface Reply {
  version: number;
  address: string;
  protocol: string;
}

describe("start with NODEWASI_SHIM_BOOTSTRAP=grpc-v2 / grpc-v3 (containerd 1.7 / 2.x)", () => {
  let dir: string;
  let base: NodeJS.ProcessEnv;
  const pids: number[] = [];

  /** A bundle running /hello.wasm, grouped into `pod` when given. */
  async function bundle(name: string, pod?: string): Promise<string> {
    const b = join(dir, name);
    await mkdir(join(b, "rootfs"), { recursive: true });
    await copyFile(join(REPO_DIR, "examples/hello/hello.wasm"), join(b, "rootfs/hello.wasm"));
    const annotations = pod ? { "io.kubernetes.cri.sandbox-id": pod } : {};
    const spec = { process: { args: ["/hello.wasm", "over", "grpc"], cwd: "/" }, root: { path: "rootfs" } };
    await writeFile(join(b, "config.json"), JSON.stringify({ ...spec, annotations }));
    return b;
  }

  async function started(b: string, id: string, env: NodeJS.ProcessEnv): Promise<Reply> {
    const r = await runShimBinary(startFlags(id), b, env);
    assert.equal(r.stderr, "", "start writes nothing to stderr (containerd reads CombinedOutput)");
    assert.equal(r.code, 0);
    const reply = JSON.parse(r.stdout) as Reply;
    // As Go shims: `address` holds the plain address (containerd 1.7+ records the reply in bootstrap.json).
    assert.equal(await readFile(join(b, "address"), "utf8"), `unix://${reply.address}`);
    const pid = Number(await readFile(join(b, "shim.pid"), "utf8").catch(() => "0"));
    if (pid) pids.push(pid);
    return reply;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-grpc-"));
    base = {
      ...process.env,
      NODEWASI_SHIM_SOCKET_DIR: join(dir, "s"),
      NODEWASI_ROOT: join(dir, "root"),
      MAX_SHIM_VERSION: "2", // set by containerd 1.7 and 2.x
    };
    delete base.TTRPC_ADDRESS;
    delete base.NODEWASI_SHIM_BOOTSTRAP;
    // A daemon that stops at the Shutdown leaving it no task, rather than once idle (30 s by default).
    base.NODEWASI_SHIM_IDLE_TIMEOUT = "0";
  });
  after(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  test("grpc-v2: JSON version 2 with a bare path; a task runs over gRPC task v3; reuse keeps the form", async () => {
    const b1 = await bundle("b1", "pod1");
    const reply = await started(b1, "c1", { ...base, NODEWASI_SHIM_BOOTSTRAP: "grpc-v2" });
    assert.deepEqual(Object.keys(reply), ["version", "address", "protocol"]);
    assert.equal(reply.version, 2);
    assert.equal(reply.protocol, "grpc");
    assert.ok(reply.address.startsWith(join(dir, "s")), `a bare socket path, not a URL: ${reply.address}`);
    assert.equal((await stat(reply.address)).mode & 0o777, 0o600);

    // As containerd 1.7's grpcBridge: dial "unix://" + address, call containerd.task.v3.Task.
    const task = createClient(Task, `unix://${reply.address}`, { name: "containerd.task.v3.Task" });
    try {
      const out = join(dir, "c1.out");
      await task.create({ id: "c1", bundle: b1, stdout: `file://${out}`, stderr: `file://${out}` });
      const waited = task.wait({ id: "c1" });
      assert.ok((await task.start({ id: "c1" })).pid > 0);
      assert.equal((await waited).exitStatus, 0);
      assert.equal(await readFile(out, "utf8"), "Hello from nodewasi!\nover\ngrpc\n");
      assert.equal((await task.delete({ id: "c1" })).exitStatus, 0);
      await assert.rejects(task.state({ id: "c1" }), /not found/);
    } finally {
      closeClient(task);
    }

    // A second container of the pod: the live daemon is reused and its form kept, although this start's
    // environment (as after a containerd restart with another drop-in) asks for nothing.
    const b2 = await bundle("b2", "pod1");
    const again = await runShimBinary(startFlags("c2"), b2, base);
    assert.deepEqual(again, { code: 0, stdout: JSON.stringify(reply), stderr: "" });
    assert.equal(
      Number(await readFile(join(b2, "shim.pid"), "utf8")),
      pids[0],
      "the live shim was reused, and its pid recorded for `delete`",
    );

    // The v2 name answers too; Shutdown with no task left ends the daemon, which removes socket and record.
    const v2 = createClient(Task, `unix://${reply.address}`, { name: "containerd.task.v2.Task" });
    const pid = (await v2.connect({ id: "c2" })).shimPid;
    assert.equal(pid, pids[0]);
    await v2.shutdown({ id: "c2" });
    closeClient(v2);
    await until(() => !alive(pid), 10_000, "the daemon to exit");
    await assert.rejects(stat(reply.address));
    await assert.rejects(stat(`${reply.address}.bootstrap`));
  });

  test("grpc-v3: JSON version 3 (what 2.x needs for gRPC), task v3 answers on the path", async () => {
    const b = await bundle("b3");
    const reply = await started(b, "solo", { ...base, NODEWASI_SHIM_BOOTSTRAP: "grpc-v3" });
    assert.deepEqual(reply, { version: 3, address: reply.address, protocol: "grpc" });
    const task = createClient(Task, `unix://${reply.address}`, { name: "containerd.task.v3.Task" });
    try {
      const c = await task.connect({ id: "solo" });
      assert.equal(c.shimPid, pids.at(-1));
      await assert.rejects(task.state({ id: "nope" }), /not found/);
    } finally {
      closeClient(task);
    }
    process.kill(pids.at(-1)!, "SIGTERM");
    await until(() => !alive(pids.at(-1)!), 10_000, "the daemon to exit");
    await assert.rejects(stat(reply.address));
  });

  test("a direct client of a pod's shim: ids are checked, and a Create without a bundle is refused (the root is shared)", async () => {
    const b = await bundle("b5");
    const reply = await started(b, "direct", { ...base, NODEWASI_SHIM_BOOTSTRAP: "grpc-v3" });
    const task = createClient(Task, `unix://${reply.address}`, { name: "containerd.task.v3.Task" });
    try {
      for (const id of ["../evil", "a/b"]) {
        await assert.rejects(task.create({ id, bundle: b }), /\[invalid_argument\] Create: the task id/);
      }
      const hello = `oci:${join(REPO_DIR, "examples/images/hello")}:latest`;
      await assert.rejects(
        task.create({
          id: "nobundle",
          options: anyPack(CreateOptionsSchema, create(CreateOptionsSchema, { image: hello })),
        }),
        /\[invalid_argument\] Create nobundle: no bundle; this shim serves containerd/,
      );
      assert.deepEqual(await readdir(join(dir, "root")).catch(() => []), [], "nothing in the shared root");
      assert.deepEqual(await readdir(dir).then((d) => d.filter((n) => n === "evil")), []);
    } finally {
      closeClient(task);
    }
    process.kill(pids.at(-1)!, "SIGTERM");
    await until(() => !alive(pids.at(-1)!), 10_000, "the daemon to exit");
  });

  test("refused, with nothing started, under containerd 1.6 (no MAX_SHIM_VERSION) or for an unknown value", async () => {
    const b = await bundle("b4");
    const env16: NodeJS.ProcessEnv = { ...base, NODEWASI_SHIM_BOOTSTRAP: "grpc-v2" };
    delete env16.MAX_SHIM_VERSION;
    const r16 = await runShimBinary(startFlags("c16"), b, env16);
    assert.equal(r16.code, 1);
    assert.equal(r16.stdout, "");
    assert.match(r16.stderr, /needs containerd 1\.7 or later.*unset NODEWASI_SHIM_BOOTSTRAP/);
    const bad = await runShimBinary(startFlags("cbad"), b, { ...base, NODEWASI_SHIM_BOOTSTRAP: "grpc" });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /NODEWASI_SHIM_BOOTSTRAP=grpc is not one of address, grpc-v2, grpc-v3/);
    await assert.rejects(stat(join(b, "shim.pid")), "no daemon was spawned");
    await assert.rejects(stat(join(b, "address")));
  });
});
