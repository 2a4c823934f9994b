/**
 * `nodewasi pull` against a registry: credentials refused (exit 4), nothing listening (exit 5), and a layer
 * that stalls halfway, where Ctrl-C (SIGINT) ends the pull promptly with exit 130 and one `interrupted`
 * message, nothing on stdout.
 * The registry is a real HTTP server speaking the distribution API for one image, on loopback.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { interruptAt } from "../../test/harness/interrupt.js";
import { buildImage } from "../oci/index.js";

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../../.."), "bin", "nodewasi");

/** Serves one image under `/v2/app/`; the layer's first 64 KiB go out, then the body stalls forever. */
function stallingRegistry(): { server: Server; layerSize: number } {
  const module = Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), randomBytes(1024 * 1024)]);
  const image = buildImage({ module, format: "artifact" });
  const manifest = image.blobs.get(image.manifest.digest)!;
  const open: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const url = req.url ?? "";
    const send = (type: string, body: Buffer, digest: string) => {
      res.writeHead(200, {
        "content-type": type,
        "content-length": body.length,
        "docker-content-digest": digest,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (url === "/v2/" || url === "/v2") return send("application/json", Buffer.from("{}"), "");
    if (url.startsWith("/v2/private/")) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="test"', "content-type": "application/json" });
      return res.end(
        JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }),
      );
    }
    const m = /^\/v2\/app\/(manifests|blobs)\/(.+)$/.exec(url);
    if (m?.[1] === "manifests" && (m[2] === "v1" || m[2] === image.manifest.digest)) {
      return send(image.manifest.mediaType, manifest, image.manifest.digest);
    }
    const blob = m?.[1] === "blobs" ? image.blobs.get(m[2] as `sha256:${string}`) : undefined;
    if (!blob) {
      res.writeHead(404, { "content-type": "application/json" });
      return res.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "unknown" }] }));
    }
    if (blob.length < 1024 * 1024) return send("application/octet-stream", blob, m![2]!);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": blob.length });
    res.write(blob.subarray(0, 64 * 1024));
    open.push(res); // never ended: the download stalls here
  });
  server.on("close", () => {
    for (const r of open) r.destroy();
  });
  return { server, layerSize: module.length };
}

/** Runs the bin to the end with its own state root and no Docker credentials. */
function run(args: string[], root: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = { ...process.env, NODEWASI_ROOT: root, DOCKER_CONFIG: join(root, "no-docker-config") };
    execFile(BIN, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("nodewasi pull from a registry", () => {
  let work: string;
  let server: Server;
  let host: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nodewasi-cli-int-"));
    server = stallingRegistry().server;
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
    await rm(work, { recursive: true, force: true });
  });

  it("exits 4 when the registry wants credentials", async () => {
    const r = await run(["pull", `${host}/private/app:v1`], join(work, "root-401"));
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^nodewasi: .*${host.replace(/\./g, "\\.")}/private/app:v1.*401`));
  });

  it("exits 5 when nothing listens at the registry address", async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((ok) => closed.close(ok));
    const r = await run(["pull", `127.0.0.1:${port}/app:v1`], join(work, "root-refused"));
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /^nodewasi: .*ECONNREFUSED/);
  });

  it("exits 130 on SIGINT during a layer download, and prints nothing on stdout", async () => {
    const { code, stdout, stderr, stoppedMs } = await interruptAt(
      BIN,
      ["pull", `${host}/app:v1`],
      { NODEWASI_ROOT: join(work, "root") },
      /^fetching sha256:[0-9a-f]{12} 1\.0 MiB$/m,
    );
    assert.equal(code, 130, stderr);
    assert.ok(stoppedMs < 5000, "the pull stops promptly");
    assert.equal(stdout, "");
    assert.match(stderr, /^nodewasi: interrupted: pull of 127\.0\.0\.1:\d+\/app:v1$/m);
    assert.doesNotMatch(stderr, /^done /m);
  });
});
