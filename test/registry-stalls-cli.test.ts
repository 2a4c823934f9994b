/**
 * Stalled registries as users meet them (issue 10, items 2 and 10): the real bin/nodewasi against a real
 * registry behind the fault proxy. `--registry-timeout` and `$NODEWASI_REGISTRY_TIMEOUT` reach `pull` and,
 * through the shim daemon, `run`; a stall exits 5 naming the host and the phase; a stalled pull in the daemon
 * does not hold up its other work; and a daemon that dies mid-pull is reported as such, with its log.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildImage } from "../src/oci/build/build.js";
import { type FaultProxy, startFaultProxy } from "./harness/fault-proxy.js";
import {
  alive,
  BIN,
  type CliWork,
  cli,
  finished,
  HELLO,
  makeWork,
  removeWork,
  shimPid,
  spawnCli,
  stopShim,
  until,
} from "./harness/index.js";
import { bigModule, helloModule } from "./harness/modules.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { recordFigures } from "./harness/reliability.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm");

describe("stalled registries, from the command line", { skip: skip ?? false }, () => {
  let registry: Registry;
  let proxy: FaultProxy;
  let work: CliWork;
  const manifestPath = /\/manifests\//;
  /** The image's blobs: its config (a few hundred bytes, which pass) and its 256 KiB layer (which stalls). */
  const blobPath = /\/blobs\/sha256:/;

  before(async () => {
    registry = await startRegistry();
    const module = bigModule("hello through a stalled registry", 256 * 1024);
    await pushBuilt(registry.host, "stalls/raw:v1", buildImage({ module, format: "image" }));
    await pushBuilt(
      registry.host,
      "stalls/other:v1",
      buildImage({ module: helloModule("hello from another image"), format: "image" }),
    );
    proxy = await startFaultProxy(registry.host);
    work = await makeWork([]);
  });
  after(async () => {
    await stopShim(join(work.dir, "env-daemon", "shim.sock"));
    await proxy?.stop();
    await registry?.stop();
    // A daemon killed mid-pull (below) leaves the shared bind of its tasks folder: removeWork unmounts it.
    await removeWork(work);
  });

  /** Whether a request made since `proxy.requests[first]` has been stalled. */
  const stalledSince = (first: number) => proxy.requests.slice(first).some((r) => r.fault === "stall");

  /** The stall message of a run or pull: exit 5, the host, the phase, and no misleading hint. */
  const assertStallExit = (r: { code: number | null; stderr: string }, phase: RegExp) => {
    assert.equal(r.code, 5, r.stderr);
    assert.ok(r.stderr.includes(proxy.host), `names the host: ${r.stderr}`);
    assert.match(r.stderr, phase);
    assert.doesNotMatch(r.stderr, /plain-http/);
  };

  test("pull --registry-timeout 1s against a registry that never answers exits 5 naming host and phase", async (t) => {
    proxy.setRules([{ path: manifestPath, occurrences: "all", fault: { kind: "silence" } }]);
    const r = await cli(work, ["--registry-timeout", "1s", "pull", `${proxy.host}/stalls/raw:v1`]);
    assertStallExit(r, /no answer came within 1s \(2 tries\)/);
    assert.match(r.stderr, /raise --registry-timeout or NODEWASI_REGISTRY_TIMEOUT \(now 1s\)/);
    recordFigures(t, { stall: "never answered", "--registry-timeout": "1s", "exit code": 5 });
  });

  test("NODEWASI_REGISTRY_TIMEOUT sets it too: a body that stalls exits 5", async () => {
    proxy.setRules([{ path: blobPath, occurrences: "all", fault: { kind: "stall", afterBytes: 4096 } }]);
    work.env.NODEWASI_REGISTRY_TIMEOUT = "1s";
    try {
      const r = await cli(work, ["pull", `${proxy.host}/stalls/raw:v1`]);
      assertStallExit(r, /stopped sending the response: nothing for 1s after 4096 bytes/);
    } finally {
      delete work.env.NODEWASI_REGISTRY_TIMEOUT;
    }
  });

  test("a timeout that is not a duration is a usage error (exit 2), from the flag or the environment", async () => {
    const flag = await cli(work, ["--registry-timeout", "soon", "pull", `${proxy.host}/stalls/raw:v1`]);
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /--registry-timeout.*'soon' is invalid.*30s, 2m or 500ms/);
    work.env.NODEWASI_REGISTRY_TIMEOUT = "-3";
    try {
      const env = await cli(work, ["pull", `${proxy.host}/stalls/raw:v1`]);
      assert.equal(env.code, 2, env.stderr);
      assert.match(env.stderr, /NODEWASI_REGISTRY_TIMEOUT/);
    } finally {
      delete work.env.NODEWASI_REGISTRY_TIMEOUT;
    }
  });

  test("run --registry-timeout 1s: the daemon's pull honours it, and run exits 5 naming host and phase", async (t) => {
    proxy.setRules([{ path: manifestPath, occurrences: "all", fault: { kind: "silence" } }]);
    const r = await cli(work, [
      "--registry-timeout",
      "1s",
      "run",
      "--rm",
      "--pull",
      "always",
      `${proxy.host}/stalls/raw:v1`,
    ]);
    assertStallExit(r, /no answer came within 1s \(2 tries\)/);
    assert.ok((await shimPid(work.address)) !== undefined, "the daemon serves on");
    recordFigures(t, {
      path: "nodewasi run, through the shim daemon",
      "--registry-timeout": "1s",
      "exit code": 5,
    });
  });

  test("a daemon started with NODEWASI_REGISTRY_TIMEOUT uses it for a run that sets none", async () => {
    // A root of its own: a root has one daemon at a time, and work.root's is the auto-started one.
    const root = join(work.dir, "env-daemon", "root");
    const address = join(work.dir, "env-daemon", "shim.sock");
    const daemon = spawn(process.execPath, [BIN, "--root", root, "--address", address, "shim", "serve"], {
      env: { ...process.env, ...work.env, NODEWASI_REGISTRY_TIMEOUT: "1s" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stopped = finished(daemon);
    try {
      await until("the daemon's socket", () => existsSync(address) || daemon.exitCode !== null, 30_000);
      assert.equal(daemon.exitCode, null, "the daemon serves");
      proxy.setRules([{ path: manifestPath, occurrences: "all", fault: { kind: "silence" } }]);
      const ref = `${proxy.host}/stalls/raw:v1`;
      const r = await cli(work, ["--root", root, "run", "--rm", "--pull", "always", ref], { address });
      assertStallExit(r, /no answer came within 1s \(2 tries\)/);
    } finally {
      daemon.kill("SIGTERM");
      await stopped;
    }
  });

  test("one stalled pull in the daemon holds up neither another pull, a run of a stored image, nor ps", async (t) => {
    proxy.setRules([{ path: blobPath, occurrences: "all", fault: { kind: "stall", afterBytes: 4096 } }]);
    const first = proxy.requests.length;
    const stalled = spawnCli(work, [
      "--registry-timeout",
      "10m",
      "run",
      "--rm",
      "--pull",
      "always",
      `${proxy.host}/stalls/raw:v1`,
    ]);
    const ended = finished(stalled);
    try {
      await until("the stalled blob request", () => stalledSince(first), 30_000);
      const other = await cli(work, ["run", "--rm", `${registry.host}/stalls/other:v1`]);
      assert.equal(other.code, 0, other.stderr);
      assert.equal(other.stdout, "hello from another image\n");
      const stored = await cli(work, ["run", "--rm", HELLO]);
      assert.equal(stored.code, 0, stored.stderr);
      assert.equal(stored.stdout, "Hello from nodewasi!\n");
      const ps = await cli(work, ["ps", "-a"]);
      assert.equal(ps.code, 0, ps.stderr);
      assert.equal(stalled.exitCode, null, "the stalled run is still waiting");
    } finally {
      stalled.kill("SIGINT");
    }
    const r = await ended;
    assert.equal(r.code, 130, r.stderr);
    recordFigures(t, {
      "stalled pulls": 1,
      "served meanwhile": "a pull and run from a registry, a run of a stored image, ps",
    });
  });

  test("a daemon that dies mid-pull: run says the shim daemon went away and where its log is", async (t) => {
    await stopShim(work.address); // the daemon is started by the run below, so its log is shim.log
    proxy.setRules([{ path: blobPath, occurrences: "all", fault: { kind: "stall", afterBytes: 4096 } }]);
    const first = proxy.requests.length;
    const child = spawnCli(work, ["run", "--rm", "--pull", "always", `${proxy.host}/stalls/raw:v1`]);
    const ended = finished(child);
    await until("the stalled blob request", () => stalledSince(first), 30_000);
    const pid = await shimPid(work.address);
    assert.ok(pid !== undefined, "a daemon serves the pull");
    process.kill(pid, "SIGKILL");
    await until("the daemon to die", () => !alive(pid), 10_000);
    const r = await ended;
    const log = join(dirname(work.address), "shim.log");
    assert.match(r.stderr, /the shim daemon .* went away/, r.stderr);
    assert.ok(r.stderr.includes(log), `names the log ${log}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /plain-http/);
    assert.equal(r.code, 1, r.stderr);
    recordFigures(t, { "daemon killed": "SIGKILL, mid-pull", "exit code": 1, "names its log": true });
  });
});
