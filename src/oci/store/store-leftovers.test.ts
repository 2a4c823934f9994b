import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { acquireLock } from "./lock.js";
import { ContentStore } from "./store.js";
import { findLeftovers, removeLeftovers } from "./store-leftovers.js";

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "nodewasi-leftovers-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(r.stdout.toString());
}

describe("leftovers of killed processes", () => {
  it("a dead pid's temporaries and stale locks are leftovers; a live writer's are not, whatever their mtime", async () => {
    const store = await ContentStore.open(join(tmp, "store"));
    const hex = "ab".repeat(32);
    const dead = join(store.root, "rootfs", `${hex}.tmp-${deadPid()}-1700000000000`);
    mkdirSync(join(dead, "bin"), { recursive: true });
    writeFileSync(join(dead, "bin", "big"), Buffer.alloc(65_536));
    const live = join(store.root, "rootfs", `${"cd".repeat(32)}.tmp-${process.pid}-1700000000000`);
    mkdirSync(live);
    // A live writer's temporary with an mtime from the past (a hard link of an unpacked file keeps the tar's
    // mtime, 1970 in reproducible images): still in flight, judged by its ctime.
    const linked = join(store.root, "modules", "sha256", `${hex}.tmp-${process.pid}-0a0b0c0d`);
    writeFileSync(linked, "\0asm");
    utimesSync(linked, new Date(0), new Date(0));
    const staleLock = join(store.root, "ingest", hex, "lock");
    mkdirSync(join(store.root, "ingest", hex));
    writeFileSync(staleLock, `${deadPid()} 0123456789abcdef\n`);
    const liveLock = await acquireLock(join(store.root, "index.json.lock"));

    const found = await findLeftovers(store.root);
    assert.deepEqual(found.map((l) => l.path).sort(), [staleLock, dead].sort());
    assert.ok(found.find((l) => l.path === dead)!.bytes >= 65_536);
    assert.match(found.find((l) => l.path === dead)!.why, /^temporary folder of pid \d+, which is gone$/);
    assert.match(found.find((l) => l.path === staleLock)!.why, /^lock held by pid \d+, which is gone$/);

    const removed = await removeLeftovers(store.root);
    assert.equal(removed.length, 2);
    for (const p of [dead, staleLock]) assert.equal(existsSync(p), false, p);
    assert.ok(existsSync(live), "a live writer's temporary stays");
    assert.ok(existsSync(linked), "also one whose mtime is from 1970");
    assert.ok(existsSync(join(store.root, "index.json.lock")), "a live lock stays");
    await liveLock!.release();
  });

  it("prune removes a killed pull's temporary rootfs", async () => {
    const store = await ContentStore.open(join(tmp, "store-2"));
    const dead = join(store.root, "rootfs", `${"ef".repeat(32)}.tmp-${deadPid()}-1700000000000`);
    mkdirSync(dead);
    assert.equal((await store.prune()).removed, 1);
    assert.equal(existsSync(dead), false);
  });
});
