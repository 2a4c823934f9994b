import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isListening } from "./socket-probe.js";

/** Leaves a socket file at `path` whose listener is gone: a process that listens there and is SIGKILLed. */
function deadSocket(path: string): void {
  const code = `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`;
  spawnSync(process.execPath, ["-e", code], { stdio: "ignore" });
  assert.ok(existsSync(path), "the killed listener leaves its socket file");
}

describe("isListening", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-probe-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("is true while a server accepts on the socket, false once it has closed", async () => {
    const path = join(dir, "live.sock");
    const server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(path, resolve));
    assert.equal(await isListening(path), true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.equal(await isListening(path), false);
  });

  it("is false for a missing path, a socket file nobody listens on, and a file that is no socket", async () => {
    assert.equal(await isListening(join(dir, "missing.sock")), false);
    assert.equal(await isListening(join(dir, "no", "such", "dir.sock")), false);
    deadSocket(join(dir, "dead.sock"));
    assert.equal(await isListening(join(dir, "dead.sock")), false);
    await writeFile(join(dir, "plain"), "");
    assert.equal(await isListening(join(dir, "plain")), false);
  });
});
