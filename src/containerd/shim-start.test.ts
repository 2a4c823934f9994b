import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { alive, runShimBinary, SHIM_BIN } from "../../test/harness/shim-binary.js";
import { until } from "../../test/harness/task-kit.js";
import { Task } from "../gen/index.js";
import { connectTtrpc, createTtrpcClient } from "../rpc/index.js";
import { NAMESPACE_GROUP, socketPath } from "./socket-address.js";

describe("containerd-shim-nodewasi-v1 start (the binary, without containerd)", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const pids: number[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-start-"));
    env = { ...process.env, NODEWASI_SHIM_SOCKET_DIR: join(dir, "s"), NODEWASI_ROOT: join(dir, "root") };
    delete env.TTRPC_ADDRESS;
    for (const b of ["b1", "b2", "b3"]) {
      await mkdir(join(dir, b));
      const annotations = b === "b3" ? {} : { "io.kubernetes.cri.sandbox-id": "pod1" };
      await writeFile(join(dir, b, "config.json"), JSON.stringify({ annotations }));
    }
  });
  after(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  const flags = (id: string, ns = "ns") => [
    "-namespace",
    ns,
    "-address",
    "/run/ctd.sock",
    "-publish-binary",
    "/x",
    "-id",
    id,
  ];

  test("prints only the address, writes it to `address`, and one daemon serves the whole pod", async () => {
    const want = `unix://${socketPath("/run/ctd.sock", "ns", "pod1", join(dir, "s"))}`;
    const first = await runShimBinary([...flags("c1"), "start"], join(dir, "b1"), env);
    assert.deepEqual(first, { code: 0, stdout: want, stderr: "" });
    assert.equal(await readFile(join(dir, "b1", "address"), "utf8"), want);
    const pid = Number(await readFile(join(dir, "b1", "shim.pid"), "utf8"));
    pids.push(pid);
    assert.ok(alive(pid));
    const sock = want.slice("unix://".length);
    assert.equal((await stat(sock)).mode & 0o777, 0o600);
    assert.equal((await stat(dirname(sock))).mode & 0o777, 0o700, "the socket folder is the owner's only");

    const second = await runShimBinary([...flags("c2"), "start"], join(dir, "b2"), env);
    assert.deepEqual(second, { code: 0, stdout: want, stderr: "" });
    assert.equal(await readFile(join(dir, "b2", "address"), "utf8"), want);
    assert.equal(
      Number(await readFile(join(dir, "b2", "shim.pid"), "utf8")),
      pid,
      "the live shim was reused, and its pid recorded for `delete`",
    );

    // Shutdown with no task left does not end the daemon (it serves the next start until idle: 30 s by
    // default); SIGTERM does, and it removes its socket.
    const conn = await connectTtrpc(want);
    const task = createTtrpcClient(Task, conn, { name: "containerd.task.v2.Task" });
    const connected = await task.connect({ id: "c1" });
    assert.equal(connected.shimPid, pid);
    assert.equal(
      connected.version,
      JSON.parse(await readFile(join(dirname(SHIM_BIN), "../package.json"), "utf8")).version,
    );
    await task.shutdown({ id: "c1" });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await task.connect({ id: "c1" })).shimPid, pid, "still serving after Shutdown");
    await conn.close();
    process.kill(pid, "SIGTERM");
    await until(() => !alive(pid), 10_000, "the daemon to exit");
    await assert.rejects(stat(sock));
  });

  test("a daemon that cannot serve: start says why the daemon gave, exits 1 and records no address", async () => {
    await mkdir(join(dir, "b4"));
    await writeFile(join(dir, "b4", "config.json"), JSON.stringify({ annotations: {} }));
    const sock = socketPath("/run/ctd.sock", "blocked", NAMESPACE_GROUP, join(dir, "s"));
    await mkdir(dirname(sock), { recursive: true });
    await writeFile(sock, "not a socket");
    const r = await runShimBinary([...flags("c4", "blocked"), "start"], join(dir, "b4"), env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `containerd-shim-nodewasi-v1 start: [failed_precondition] ${sock} exists and is not a socket; remove it or pick another path\n`,
    );
    await assert.rejects(stat(join(dir, "b4", "address")));
    await assert.rejects(stat(join(dir, "b4", "shim.pid")), "no pid of a daemon that is not serving");
  });

  test("the daemon answers task v3 too, and SIGTERM stops it and removes the socket", async () => {
    const r = await runShimBinary([...flags("solo"), "start"], join(dir, "b3"), env);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, `unix://${socketPath("/run/ctd.sock", "ns", NAMESPACE_GROUP, join(dir, "s"))}`);
    const pid = Number(await readFile(join(dir, "b3", "shim.pid"), "utf8"));
    pids.push(pid);
    const conn = await connectTtrpc(r.stdout);
    const v3 = createTtrpcClient(Task, conn, { name: "containerd.task.v3.Task" });
    await assert.rejects(v3.state({ id: "nope" }), /not found/);
    await conn.close();
    process.kill(pid, "SIGTERM");
    await until(() => !alive(pid), 10_000, "the daemon to exit");
    await assert.rejects(stat(r.stdout.slice("unix://".length)));
  });
});
