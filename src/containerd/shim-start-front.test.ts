/**
 * The shell front of bin/containerd-shim-nodewasi-v1 answering `start` without Node, and leaving it to Node in
 * any doubt. "Without Node" is checked by running it with a PATH that holds the tools it uses but no `node`: a
 * fall-through then fails with 127 ("node: not found").
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { alive, runShimBinary, startFlags } from "../../test/harness/shim-binary.js";
import { until } from "../../test/harness/task-kit.js";
import { daemonClaim, daemonRecord } from "./daemon-socket.js";
import { NAMESPACE_GROUP, socketPath } from "./socket-address.js";

/** The commands the shell front runs (the rest are dash's builtins). */
const TOOLS = ["grep", "sha256sum", "stat", "sync", "mv"];

describe("containerd-shim-nodewasi-v1 start, answered by its shell front", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let noNode: NodeJS.ProcessEnv;
  const pids: number[] = [];
  const sock = (ns: string) => socketPath("/run/ctd.sock", ns, NAMESPACE_GROUP, join(dir, "s"));

  /** A bundle with `config` as its config.json. */
  async function bundle(name: string, config: unknown = { annotations: {} }): Promise<string> {
    const b = join(dir, name);
    await mkdir(b, { recursive: true });
    await writeFile(join(b, "config.json"), typeof config === "string" ? config : JSON.stringify(config));
    return b;
  }

  /** Starts the daemon of `ns` through Node; resolves with its pid. */
  async function daemon(ns: string, extra: NodeJS.ProcessEnv = {}): Promise<number> {
    const b = await bundle(`first-${ns}`);
    const r = await runShimBinary(startFlags("first", ns), b, { ...env, ...extra });
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(await readFile(join(b, "shim.pid"), "utf8"));
    pids.push(pid);
    return pid;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-front-"));
    await mkdir(join(dir, "tools"));
    for (const t of TOOLS) await symlink(`/usr/bin/${t}`, join(dir, "tools", t));
    env = { ...process.env, NODEWASI_SHIM_SOCKET_DIR: join(dir, "s"), NODEWASI_ROOT: join(dir, "root") };
    delete env.TTRPC_ADDRESS;
    delete env.NODEWASI_SHIM_BOOTSTRAP;
    delete env.NODEWASI_SHIM_IDLE_TIMEOUT;
    noNode = { ...env, PATH: join(dir, "tools") };
  });
  after(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  test("a live daemon of the namespace: the reply, address and shim.pid, with no Node on PATH", async () => {
    const pid = await daemon("ns");
    const b = await bundle("b1");
    const r = await runShimBinary(startFlags("c1", "ns"), b, noNode);
    assert.deepEqual(r, { code: 0, stdout: `unix://${sock("ns")}`, stderr: "" });
    assert.equal(await readFile(join(b, "address"), "utf8"), `unix://${sock("ns")}`);
    assert.equal((await stat(join(b, "address"))).mode & 0o777, 0o644);
    assert.equal(Number(await readFile(join(b, "shim.pid"), "utf8")), pid);
    await stat(daemonClaim(sock("ns")));
    assert.deepEqual(
      (await readdir(b)).sort(),
      ["address", "config.json", "shim.pid"],
      "no temporary file left",
    );
  });

  test("in any doubt it leaves start to Node: a pod, a \\u escape, a reused pid, a stale socket, odd settings", async () => {
    const pid = await daemon("doubt");
    const fallsThrough = async (what: string, b: string, e: NodeJS.ProcessEnv, ns = "doubt") => {
      const r = await runShimBinary(startFlags("c", ns), b, e);
      assert.equal(r.code, 127, `${what}: ${JSON.stringify(r)}`);
      assert.equal(r.stdout, "", what);
      assert.match(r.stderr, /node: not found/, what);
    };
    await fallsThrough(
      "a pod's container",
      await bundle("pod", { annotations: { "io.kubernetes.cri.sandbox-id": "p1" } }),
      noNode,
    );
    await fallsThrough(
      "a key spelt with \\u escapes",
      await bundle("escaped", '{"annotations":{"io.kubernetes.cri.sandbox\\u002did":"p1"}}'),
      noNode,
    );
    await fallsThrough("no config.json", join(dir, "tools"), noNode);
    await fallsThrough("a gRPC reply asked of containerd 1.6", await bundle("grpc"), {
      ...noNode,
      NODEWASI_SHIM_BOOTSTRAP: "grpc-v2",
    });
    await fallsThrough("a socket dir that is not clean", await bundle("unclean"), {
      ...noNode,
      NODEWASI_SHIM_SOCKET_DIR: `${join(dir, "s")}/`,
    });

    // The pid is reused: the record's pid runs, but it started at another time.
    const record = await readFile(daemonRecord(sock("doubt")), "utf8");
    const [, start, boot, ino] = record.trim().split(" ");
    await writeFile(daemonRecord(sock("doubt")), `${process.pid} ${start} ${boot} ${ino}\n`);
    await fallsThrough("a reused pid", await bundle("reused"), noNode);
    // Node, asked instead, finds the daemon listening, and records no pid it cannot vouch for.
    const viaNode = await bundle("via-node");
    const r = await runShimBinary(startFlags("c", "doubt"), viaNode, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `unix://${sock("doubt")}`);
    await assert.rejects(stat(join(viaNode, "shim.pid")));

    // The daemon is killed: its record names a dead process, its socket nobody listens on.
    await writeFile(daemonRecord(sock("doubt")), record);
    process.kill(pid, "SIGKILL");
    await until(() => !alive(pid), 10_000, "the daemon to die");
    await fallsThrough("a dead daemon", await bundle("dead"), noNode);
    const relaunched = await bundle("relaunched");
    const again = await runShimBinary(startFlags("c", "doubt"), relaunched, env);
    assert.equal(again.code, 0, again.stderr);
    const fresh = Number(await readFile(join(relaunched, "shim.pid"), "utf8"));
    pids.push(fresh);
    assert.ok(fresh !== pid && alive(fresh), "Node launched a new daemon");
  });

  test("idle: the daemon serves on after a claim, then exits and takes its name and records along", async () => {
    const pid = await daemon("idle", { NODEWASI_SHIM_IDLE_TIMEOUT: "3s" });
    const s = sock("idle");
    // A start claims it (as the shell front and Node's start do before they look): the next idle check takes
    // the claim, and the daemon is found again for another period.
    await writeFile(daemonClaim(s), "");
    await until(async () => !(await stat(daemonClaim(s)).catch(() => undefined)), 20_000, "the claim taken");
    assert.ok(alive(pid), "a claimed daemon serves on");
    await until(
      async () => (await stat(daemonRecord(s)).catch(() => undefined)) !== undefined,
      5_000,
      "restored",
    );
    await until(() => !alive(pid), 20_000, "the daemon to exit once idle");
    for (const gone of [s, daemonRecord(s), `${s}.bootstrap`, `${s}.${pid}`])
      await assert.rejects(stat(gone));
    // The next start (Node: no daemon to find) launches a new one.
    const b = await bundle("after-idle");
    const r = await runShimBinary(startFlags("c", "idle"), b, { ...env, NODEWASI_SHIM_IDLE_TIMEOUT: "3s" });
    assert.equal(r.code, 0, r.stderr);
    const fresh = Number(await readFile(join(b, "shim.pid"), "utf8"));
    pids.push(fresh);
    assert.ok(fresh !== pid && alive(fresh));
  });

  test("a bad NODEWASI_SHIM_IDLE_TIMEOUT: start exits 1 and says what to write", async () => {
    const b = await bundle("bad-idle");
    const r = await runShimBinary(startFlags("c", "badidle"), b, {
      ...env,
      NODEWASI_SHIM_IDLE_TIMEOUT: "soon",
    });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /NODEWASI_SHIM_IDLE_TIMEOUT: "soon" is not a duration/);
  });
});
