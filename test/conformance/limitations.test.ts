/**
 * The reasons limitations.ts gives for node:wasi's own failures, checked against node:wasi itself: when a
 * Node release changes the behaviour, this fails and the reason (and docs/CONFORMANCE.md) must be updated.
 */
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { WASI } from "node:wasi";
import { NODE_LIMITATIONS } from "./limitations.js";

/** `(module (memory (export "memory") 1) (func (export "_start")))`: lets node:wasi's calls reach memory. */
const EMPTY_COMMAND = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 19, 2, 6, 109, 101, 109, 111,
  114, 121, 2, 0, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1, 2, 0, 11,
]);
const wasm = (
  globalThis as unknown as {
    WebAssembly: { instantiate(b: Uint8Array, i: object): Promise<{ instance: object }> };
  }
).WebAssembly;

// WASI errno values (wasi_snapshot_preview1) and sdflags.
const EBADF = 8;
const ENOTSUP = 58;
const ENOTCAPABLE = 76;
const SHUT_RD = 1;
const SHUT_WR = 2;

describe("node:wasi's sock_shutdown, as limitations.ts describes it", () => {
  const dir = mkdtempSync(join(tmpdir(), "nodewasi-limits-"));
  // The guest's stdio are a file of our own: sock_shutdown on the host's own fd 1 would shut our stdout.
  const file = openSync(join(dir, "stdio"), "w+");
  after(() => {
    closeSync(file);
    rmSync(dir, { recursive: true, force: true });
  });

  async function sockShutdown(): Promise<(fd: number, how: number) => number> {
    const wasi = new WASI({
      version: "preview1",
      stdin: file,
      stdout: file,
      stderr: file,
      returnOnExit: true,
    });
    const { instance } = await wasm.instantiate(EMPTY_COMMAND, wasi.getImportObject());
    wasi.start(instance);
    return wasi.wasiImport.sock_shutdown as (fd: number, how: number) => number;
  }

  it("SHUT_RD is ENOTSUP before the fd is looked at; SHUT_WR gives EBADF, or ENOTCAPABLE on a file", async () => {
    assert.ok(NODE_LIMITATIONS["c/sock_shutdown-invalid_fd"]);
    assert.ok(NODE_LIMITATIONS["c/sock_shutdown-not_sock"]);
    const shutdown = await sockShutdown();
    assert.equal(shutdown(420, SHUT_RD), ENOTSUP, "invalid fd, SHUT_RD");
    assert.equal(shutdown(420, SHUT_WR), EBADF, "invalid fd, SHUT_WR");
    assert.equal(shutdown(1, SHUT_RD), ENOTSUP, "a file, SHUT_RD");
    assert.equal(shutdown(1, SHUT_WR), ENOTCAPABLE, "a file, SHUT_WR");
  });
});
