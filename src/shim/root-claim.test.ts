import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Code, probeRootOwner, readRootOwner, ShimError } from "../internal/index.js";
import { claimRoot } from "./root-claim.js";

const INDEX = fileURLToPath(new URL("./index.js", import.meta.url));

/** A process that claims `root` for `address`, prints "claimed" and waits to be killed. */
function claimInChild(root: string, address: string) {
  const code = `import(${JSON.stringify(INDEX)}).then(async ({ claimRoot }) => {
    await claimRoot(${JSON.stringify(root)}, { address: ${JSON.stringify(address)} });
    process.stdout.write("claimed\\n");
    setInterval(() => {}, 1000);
  });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const claimed = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (d: string) => d.includes("claimed") && resolve());
    child.once("exit", (c) => reject(new Error(`the claiming child exited (${c})`)));
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return { child, claimed, exited };
}

function refusedBy(pid: number, address: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ShimError, String(err));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.match(err.message, new RegExp(`owned by the nodewasi daemon with pid ${pid} serving ${address}`));
    assert.match(String(err.details.hint), new RegExp(`--address ${address}`));
    return true;
  };
}

describe("claimRoot: one owning daemon per root", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-claim-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("a second claim is refused, naming the owner's pid and address; after release it succeeds", async () => {
    const root = join(dir, "one");
    const first = await claimRoot(root, { address: "/run/a.sock" });
    assert.equal((await stat(join(root, "owner.sock"))).mode & 0o777, 0o600);
    const { token, ...said } = (await readRootOwner(root))!;
    assert.deepEqual(said, { pid: process.pid, address: "/run/a.sock", stopping: false });
    assert.match(token ?? "", /^[0-9a-f]{16}$/);
    await assert.rejects(claimRoot(root, { address: "/run/b.sock" }), refusedBy(process.pid, "/run/a.sock"));
    await first.release();
    await first.release();
    assert.equal(await readRootOwner(root), undefined);
    assert.ok(!existsSync(join(root, "owner.sock")));
    const second = await claimRoot(root, { address: "/run/b.sock" });
    assert.equal((await readRootOwner(root))?.address, "/run/b.sock");
    await second.release();
  });

  it("dies with its owner: a SIGKILLed owner's socket is taken over at once, whatever its pid is now", async () => {
    const root = join(dir, "killed");
    const owner = claimInChild(root, "/run/dead.sock");
    await owner.claimed;
    await assert.rejects(
      claimRoot(root, { address: "/run/b.sock" }),
      refusedBy(owner.child.pid!, "/run/dead.sock"),
    );
    owner.child.kill("SIGKILL");
    await owner.exited;
    assert.ok(existsSync(join(root, "owner.sock")), "the dead owner's socket file stays");
    assert.equal((await probeRootOwner(root)).state, "dead");
    const next = await claimRoot(root, { address: "/run/b.sock" });
    assert.equal((await readRootOwner(root))?.pid, process.pid);
    await next.release();
  });

  it("waits for an owner that says it is stopping, and takes the root once it is released", async () => {
    const root = join(dir, "stopping");
    const first = await claimRoot(root, { address: "/run/a.sock" });
    first.markStopping();
    assert.equal((await readRootOwner(root))?.stopping, true);
    let taken = false;
    const second = claimRoot(root, { address: "/run/b.sock" }).then((o) => {
      taken = true;
      return o;
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(taken, false, "the root is not taken while its owner stops");
    await first.release();
    await (await second).release();
    assert.ok(taken);
  });

  it("a stopping owner that never lets go is refused after the wait, said to be stopping", async () => {
    const root = join(dir, "stuck");
    const first = await claimRoot(root, { address: "/run/a.sock" });
    first.markStopping();
    await assert.rejects(
      claimRoot(root, { address: "/run/b.sock", stoppingWaitMs: 300 }),
      /which is still stopping/,
    );
    await first.release();
  });

  it("of many claims at once, exactly one wins", async () => {
    const root = join(dir, "race");
    const claims = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => claimRoot(root, { address: `/run/${i}.sock` })),
    );
    const won = claims.filter((c) => c.status === "fulfilled");
    assert.equal(won.length, 1, JSON.stringify(claims.map((c) => c.status)));
    for (const c of claims) if (c.status === "rejected") assert.equal(c.reason.code, Code.FailedPrecondition);
    await won[0]!.value.release();
  });

  it("a root deeper than a socket path can be (108 bytes) still gets an owner socket", async () => {
    const root = join(dir, "d".repeat(60), "e".repeat(60));
    const owner = await claimRoot(root, { address: "/run/deep.sock" });
    assert.equal((await readRootOwner(root))?.address, "/run/deep.sock");
    await assert.rejects(
      claimRoot(root, { address: "/run/b.sock" }),
      refusedBy(process.pid, "/run/deep.sock"),
    );
    await owner.release();
  });

  it("release leaves alone a socket that is no longer its own (the root was removed and claimed again)", async () => {
    const root = join(dir, "replaced");
    const first = await claimRoot(root, { address: "/run/a.sock" });
    await rm(root, { recursive: true });
    const second = await claimRoot(root, { address: "/run/b.sock" });
    await first.release();
    assert.equal((await readRootOwner(root))?.address, "/run/b.sock");
    await second.release();
  });

  it("something listening on owner.sock that says nothing is a live owner of unknown identity", async () => {
    const root = join(dir, "mute");
    await mkdir(root);
    const mute = createServer(() => {});
    await new Promise<void>((r) => mute.listen(join(root, "owner.sock"), r));
    try {
      await assert.rejects(claimRoot(root, { address: "/run/b.sock" }), /owned by another nodewasi daemon;/);
    } finally {
      mute.close();
    }
  });
});
