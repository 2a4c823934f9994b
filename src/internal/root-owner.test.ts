import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { OWNER_SOCKET, ownedBy, probeRootOwner, readRootOwner, withSocketPath } from "./root-owner.js";
import { Code } from "./shim-error.js";

/** A fake owner on `path` that answers every connection with `answer` and hangs up. */
async function owner(path: string, answer: string): Promise<Server> {
  const server = createServer((s) => s.end(answer));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe("root owner", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-owner-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("finds nobody for a missing root or a root without an owner socket", async () => {
    assert.deepEqual(await probeRootOwner(join(dir, "missing")), { state: "none" });
    await mkdir(join(dir, "empty"));
    assert.deepEqual(await probeRootOwner(join(dir, "empty")), { state: "none" });
    assert.equal(await readRootOwner(join(dir, "empty")), undefined);
  });

  it("reads what a live owner says about itself", async () => {
    const root = join(dir, "live");
    await mkdir(root);
    const said = { pid: 4242, address: "/run/nodewasi/shim.sock", stopping: true, token: "t1" };
    const server = await owner(join(root, OWNER_SOCKET), JSON.stringify(said));
    try {
      assert.deepEqual(await probeRootOwner(root), { state: "live", owner: said });
      assert.deepEqual(await readRootOwner(root), said);
    } finally {
      await close(server);
    }
  });

  it("takes an owner that answers nonsense for a live one that did not say who it is", async () => {
    const root = join(dir, "garbled");
    await mkdir(root);
    for (const answer of ["not json", JSON.stringify({ pid: "1", address: "/x" }), ""]) {
      const server = await owner(join(root, OWNER_SOCKET), answer);
      try {
        assert.deepEqual(
          await probeRootOwner(root),
          { state: "live", owner: { pid: 0, address: "", stopping: false } },
          answer,
        );
      } finally {
        await close(server);
      }
    }
  });

  it("reaches a socket in a folder too deep for sun_path through the folder's descriptor", async () => {
    const deep = join(dir, "d".repeat(60), "e".repeat(60));
    await mkdir(deep, { recursive: true });
    assert.ok(Buffer.byteLength(join(deep, OWNER_SOCKET)) > 107);
    const server = await withSocketPath(deep, OWNER_SOCKET, async (path) => {
      assert.match(path, /^\/proc\/self\/fd\/\d+\/owner\.sock$/);
      return owner(path, JSON.stringify({ pid: 7, address: "/a.sock" }));
    });
    try {
      assert.deepEqual(await readRootOwner(deep), { pid: 7, address: "/a.sock", stopping: false });
    } finally {
      await close(server);
    }
    assert.equal(await withSocketPath(dir, OWNER_SOCKET, async (path) => path), join(dir, OWNER_SOCKET));
  });

  it("refuses a root with FailedPrecondition naming the owner and what to do", () => {
    const err = ownedBy("/var/lib/nodewasi", { pid: 12, address: "/run/nodewasi/shim.sock", stopping: true });
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(
      err.rawMessage,
      "the state root /var/lib/nodewasi is owned by the nodewasi daemon with pid 12 serving /run/nodewasi/shim.sock, which is still stopping; a root has one daemon at a time",
    );
    assert.match(String(err.details.hint), /--address \/run\/nodewasi\/shim\.sock/);
    const anon = ownedBy("/r", { pid: 0, address: "", stopping: false });
    assert.match(anon.rawMessage, /owned by another nodewasi daemon; a root/);
    assert.equal(anon.details.hint, "stop the other daemon, or give this one another --root");
  });
});
