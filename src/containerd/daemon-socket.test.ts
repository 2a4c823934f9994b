import assert from "node:assert/strict";
import { link, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bootstrapRecord } from "./bootstrap.js";
import {
  boundName,
  claimDaemon,
  DaemonSocket,
  daemonClaim,
  daemonRecord,
  recordedDaemon,
} from "./daemon-socket.js";

/** A listening unix socket at `path` (what the daemon binds). */
async function listening(path: string): Promise<Server> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}

describe("DaemonSocket: the idle handoff between start and a shared daemon", () => {
  let dir: string;
  const servers: Server[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-dsock-"));
  });
  after(async () => {
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("published: the name links the bound socket, the records name this process and the reply", async () => {
    const socket = join(dir, "a");
    servers.push(await listening(boundName(socket)));
    const ds = new DaemonSocket(socket, boundName(socket), "address");
    await ds.publish();
    assert.equal((await stat(socket)).ino, (await stat(boundName(socket))).ino);
    assert.equal(await recordedDaemon(socket), process.pid);
    assert.equal(await readFile(bootstrapRecord(socket), "utf8"), `unix://${socket}`);
    const [pid, start, boot, ino] = (await readFile(daemonRecord(socket), "utf8")).trim().split(" ");
    assert.equal(Number(pid), process.pid);
    assert.equal(boot, (await readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim());
    assert.equal(ino, String((await stat(socket, { bigint: true })).ino));

    // A reused pid: the same pid with another start time is not this daemon.
    await writeFile(daemonRecord(socket), `${pid} ${Number(start) + 1} ${boot} ${ino}\n`);
    assert.equal(await recordedDaemon(socket), undefined);
    await ds.withdraw();
  });

  test("withdraw without a claim: free to stop, name and records gone; a claim made meanwhile keeps it", async () => {
    const socket = join(dir, "b");
    servers.push(await listening(boundName(socket)));
    const ds = new DaemonSocket(socket, boundName(socket), "grpc-v2");
    await ds.publish();
    assert.equal(await ds.withdraw(), true);
    for (const gone of [socket, daemonRecord(socket), bootstrapRecord(socket)])
      await assert.rejects(stat(gone));

    assert.equal(await ds.restore(), true);
    assert.equal(await recordedDaemon(socket), process.pid);
    assert.match(await readFile(bootstrapRecord(socket), "utf8"), /"version":2/);
    await claimDaemon(socket);
    assert.equal(await ds.withdraw(), false, "a start claimed it: it must serve on");
    await assert.rejects(stat(daemonClaim(socket)), "the claim is taken");
    assert.equal(await ds.restore(), true);
    assert.equal(await ds.withdraw(), true, "the claim counted once");
  });

  test("a stale name (its daemon was killed) is replaced; a live one is refused", async () => {
    const socket = join(dir, "c");
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(boundName(socket, 3), r));
    await link(boundName(socket, 3), socket);
    // libuv unlinks the bound name on close; the link stays, a socket nobody listens on.
    await new Promise<void>((r) => dead.close(() => r()));
    servers.push(await listening(boundName(socket, 1)));
    servers.push(await listening(boundName(socket, 2)));
    // What a daemon killed before left: its bound name (no process has pid 999999999; names of live pids, such
    // as 1 and 2 here, are kept).
    await writeFile(boundName(socket, 999_999_999), "");
    await new DaemonSocket(socket, boundName(socket, 1), "address").publish();
    assert.equal((await stat(socket)).ino, (await stat(boundName(socket, 1))).ino);
    await assert.rejects(stat(boundName(socket, 999_999_999)), "a dead daemon's bound name is removed");
    await stat(boundName(socket, 1));
    await assert.rejects(
      new DaemonSocket(socket, boundName(socket, 2), "address").publish(),
      /already listening/,
    );
    await writeFile(join(dir, "d"), "");
    await assert.rejects(
      new DaemonSocket(join(dir, "d"), boundName(socket, 2), "address").publish(),
      /not a socket/,
    );
  });

  test("a name another daemon took is left alone: withdraw frees, restore cannot", async () => {
    const socket = join(dir, "e");
    servers.push(await listening(boundName(socket, 1)));
    servers.push(await listening(boundName(socket, 2)));
    const first = new DaemonSocket(socket, boundName(socket, 1), "address");
    const second = new DaemonSocket(socket, boundName(socket, 2), "address");
    await first.publish();
    await rm(socket); // as if a racing daemon had found it stale
    await second.publish();
    const records = await readFile(daemonRecord(socket), "utf8");
    await claimDaemon(socket);
    assert.equal(await first.withdraw(), true, "not its name: nobody finds it, it may stop");
    assert.equal(await readFile(daemonRecord(socket), "utf8"), records, "the second's records stay");
    await stat(daemonClaim(socket));
    assert.equal(await first.restore(), false);
    assert.equal(await second.withdraw(), false, "the claim was the second's");
  });

  test("claimDaemon in a folder that does not exist is a no-op", async () => {
    await claimDaemon(join(dir, "none", "x"));
    assert.equal(await recordedDaemon(join(dir, "none", "x")), undefined);
  });
});
