/**
 * Ctrl-C during `nodewasi push`: a registry (a loopback HTTP server speaking the push half of the
 * distribution API) that takes the upload's first bytes and then reads no more, so the push is stuck
 * mid-blob; SIGINT ends it promptly with exit 130, one `interrupted` message and nothing on stdout.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildImage, writeLayout } from "../src/oci/index.js";
import { BIN } from "./harness/index.js";
import { interruptAt } from "./harness/interrupt.js";

/** HEAD: 404; POST: a session; PUT or PATCH: read 64 KiB of the body, then stop reading (the upload stalls). */
function stallingRegistry(): Server {
  const held: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    if (req.method === "HEAD") {
      res.writeHead(404).end();
    } else if (req.method === "POST") {
      req.resume();
      res.writeHead(202, { location: `/v2/app/blobs/uploads/${randomBytes(4).toString("hex")}` }).end();
    } else {
      let got = 0;
      req.on("data", (chunk: Buffer) => {
        got += chunk.length;
        if (got >= 64 * 1024) req.pause();
      });
      held.push(req);
    }
  });
  server.on("close", () => {
    for (const r of held) r.destroy();
  });
  return server;
}

describe("nodewasi push interrupted", () => {
  let work: string;
  let server: Server;
  let host: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nodewasi-push-int-"));
    const module = Buffer.concat([
      Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]),
      randomBytes(8 * 1024 * 1024),
    ]);
    await writeLayout(join(work, "layout"), [
      { image: buildImage({ module, format: "artifact" }), tag: "v1" },
    ]);
    server = stallingRegistry();
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
    await rm(work, { recursive: true, force: true });
  });

  it("exits 130 on SIGINT during a blob upload, promptly, and prints nothing on stdout", async () => {
    const src = `oci:${join(work, "layout")}:v1`;
    const { code, stdout, stderr, stoppedMs } = await interruptAt(
      BIN,
      ["push", src, `${host}/app:v1`],
      { NODEWASI_ROOT: join(work, "root"), DOCKER_CONFIG: join(work, "none") },
      /^pushing sha256:[0-9a-f]{12} 8\.0 MiB$/m,
      300, // let the upload reach the stall
    );
    assert.equal(code, 130, stderr);
    assert.ok(stoppedMs < 5000, "the push stops promptly");
    assert.equal(stdout, "");
    assert.match(stderr, /^nodewasi: interrupted: push of oci:.*layout:v1$/m);
    assert.doesNotMatch(stderr, /^done /m);
  });
});
