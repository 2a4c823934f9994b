import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { bootId, Code, ShimError, selfIdentity } from "../../internal/index.js";
import { acquireLock, describeHolder, isStale, LOCK_RENEW_MS, type LockWait, readHolder } from "./lock.js";

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "nodewasi-lock-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const lockPath = () => join(tmp, `lock-${++n}`);
const TWO_DAYS_AGO = new Date(Date.now() - 2 * 86_400_000);

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill("SIGKILL");
});

/** An unrelated live process (it starts now, so it cannot have written an older lock). */
function unrelated(): number {
  const child = spawn("sleep", ["600"], { stdio: "ignore" });
  children.push(child);
  return child.pid!;
}

/** A process holding the lock at `path` (test/harness/lock-holder.ts), once it says it holds it. */
async function holder(path: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL("../../../test/harness/lock-holder.js", import.meta.url));
  const child = spawn(process.execPath, [script, path], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`lock holder exited ${code}`)));
  });
  return child;
}

describe("lock files", () => {
  it("a lock naming a live pid that started after the lock was written (pid reuse, old format) is stolen", async () => {
    const path = lockPath();
    const pid = unrelated();
    writeFileSync(path, `${pid} 0123456789abcdef\n`);
    utimesSync(path, TWO_DAYS_AGO, TWO_DAYS_AGO);
    const h = await readHolder(path);
    assert.equal(h?.pid, pid);
    assert.equal(isStale(h!), true);
    const lock = await acquireLock(path, { signal: AbortSignal.timeout(5000) });
    assert.ok(lock);
    assert.equal((await readHolder(path))?.pid, process.pid);
    await lock.release();
  });

  it("a lock naming a live pid with another start time, or from another boot, is stolen", async () => {
    const pid = unrelated();
    const boot = bootId();
    for (const meta of [
      { token: "t", start: 1, boot, since: TWO_DAYS_AGO.getTime() },
      { token: "t", start: selfIdentity().start, boot: "another-boot", since: Date.now() },
    ]) {
      const path = lockPath();
      writeFileSync(path, `${meta.start === 1 ? pid : process.pid} ${JSON.stringify(meta)}\n`);
      assert.equal(isStale((await readHolder(path))!), true, JSON.stringify(meta));
      const lock = await acquireLock(path, { signal: AbortSignal.timeout(5000) });
      assert.ok(lock);
      await lock.release();
    }
  });

  it("records pid, start time, boot and since, and is not stale while its holder runs", async () => {
    const path = lockPath();
    const lock = await acquireLock(path);
    const h = (await readHolder(path))!;
    assert.equal(h.pid, process.pid);
    assert.equal(h.start, selfIdentity().start);
    assert.equal(h.boot, bootId());
    assert.ok(Math.abs(h.sinceMs - Date.now()) < 60_000);
    assert.equal(h.renews, true);
    assert.equal(isStale(h), false);
    assert.match(
      describeHolder(h),
      new RegExp(`^pid ${process.pid} \\(.*node.*\\) since \\d{4}-.* \\(\\d+ s ago\\)$`),
    );
    await lock!.release();
    assert.equal(await readHolder(path), undefined);
  });

  it("waits for a live holder, says who it is, and takes the lock once released", async () => {
    const path = lockPath();
    const child = await holder(path);
    const waits: LockWait[] = [];
    const taking = acquireLock(path, { what: "the test lock", onWait: (w) => waits.push(w) });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(waits.length, 1, "reported once, after a second");
    assert.equal(waits[0]!.holder.pid, child.pid);
    assert.equal(waits[0]!.what, "the test lock");
    assert.match(describeHolder(waits[0]!.holder), /lock-holder\.js/);
    child.stdin!.end();
    const lock = await taking;
    assert.equal((await readHolder(path))?.pid, process.pid);
    await lock!.release();
  });

  it("steals the lock of a holder killed with SIGKILL at once", async () => {
    const path = lockPath();
    const child = await holder(path);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const lock = await acquireLock(path, { signal: AbortSignal.timeout(5000) });
    assert.ok(lock);
    await lock.release();
  });

  it("a live holder that stopped renewing fails the wait, naming it (not stolen)", async () => {
    const path = lockPath();
    const child = await holder(path);
    child.kill("SIGSTOP");
    try {
      const old = new Date(Date.now() - 120_000);
      utimesSync(path, old, old); // two minutes without a renewal
      await assert.rejects(
        acquireLock(path, { what: "the test lock", signal: AbortSignal.timeout(10_000) }),
        (e: unknown) => {
          assert.ok(e instanceof ShimError);
          assert.equal(e.code, Code.FailedPrecondition);
          assert.match(
            e.rawMessage,
            new RegExp(`the test lock is locked by pid ${child.pid} .* has not renewed`),
          );
          assert.match(String(e.details.hint), new RegExp(`kill ${child.pid}`));
          return true;
        },
      );
      assert.equal((await readHolder(path))?.pid, child.pid, "the lock stays its holder's");
    } finally {
      child.kill("SIGCONT");
      child.stdin!.end();
    }
  });

  it("timeoutMs bounds the wait for a live holder with DeadlineExceeded naming it", async () => {
    const path = lockPath();
    const child = await holder(path);
    try {
      await assert.rejects(acquireLock(path, { timeoutMs: 300, what: "the test lock" }), (e: unknown) => {
        assert.ok(e instanceof ShimError);
        assert.equal(e.code, Code.DeadlineExceeded);
        assert.match(e.rawMessage, new RegExp(`waiting for the test lock, locked by pid ${child.pid}`));
        return true;
      });
      // timeoutMs 0: one look (a daemon that must be the only one on its root).
      const started = Date.now();
      await assert.rejects(acquireLock(path, { timeoutMs: 0 }), /locked by pid/);
      assert.ok(Date.now() - started < 5000);
    } finally {
      child.stdin!.end();
    }
  });

  it("a holder renews its lock while it holds it", async () => {
    const path = lockPath();
    const lock = await acquireLock(path);
    const old = new Date(Date.now() - 120_000);
    utimesSync(path, old, old);
    await new Promise((r) => setTimeout(r, LOCK_RENEW_MS + 1500));
    assert.ok(statSync(path).mtimeMs > Date.now() - 60_000, "renewed");
    assert.equal(readFileSync(path, "utf8").startsWith(`${process.pid} `), true);
    await lock!.release();
  });
});
