/**
 * Integration: the client against the real CNCF distribution registry (Debian `docker-registry`, 2.8), open
 * and behind htpasswd Basic auth. Skipped, saying why, when the binary is not installed.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Code, type Digest, type ShimError, sha256 } from "../../internal/index.js";
import { MediaType } from "../image/index.js";
import { anonymous, type CredentialProvider, RegistryClient, registrySource } from "./index.js";

const BINARY = "/usr/bin/docker-registry";
const installed = (() => {
  try {
    execFileSync(BINARY, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const skip = installed ? false : `${BINARY} is not installed (Debian package docker-registry)`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Started {
  registry: string;
  proc: ChildProcess;
  dir: string;
}

/** Starts `docker-registry serve` on a free loopback port; resolves once GET /v2/ answers. */
async function startRegistry(htpasswd?: string): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-distribution-"));
  const port = await freePort();
  let auth = "";
  if (htpasswd) {
    await writeFile(join(dir, "htpasswd"), htpasswd);
    auth = `auth:\n  htpasswd:\n    realm: nodewasi-test\n    path: ${join(dir, "htpasswd")}\n`;
  }
  const config = `version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: ${join(dir, "data")}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${auth}`;
  await writeFile(join(dir, "config.yml"), config);
  const proc = spawn(BINARY, ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`docker-registry did not start on port ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { registry: `127.0.0.1:${port}`, proc, dir };
}

async function stop(s: Started | undefined): Promise<void> {
  if (!s) return;
  if (s.proc.exitCode === null) {
    const exited = new Promise((r) => s.proc.once("exit", r));
    s.proc.kill("SIGTERM");
    await exited;
  }
  await rm(s.dir, { recursive: true, force: true });
}

function blob(text: string): { bytes: Buffer; desc: { mediaType: string; digest: Digest; size: number } } {
  const bytes = Buffer.from(text);
  return { bytes, desc: { mediaType: MediaType.Wasm, digest: sha256(bytes), size: bytes.length } };
}

function manifestFor(config: ReturnType<typeof blob>, layer: ReturnType<typeof blob>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { ...config.desc, mediaType: MediaType.OciConfig },
      layers: [layer.desc],
    }),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("against docker-registry (open)", { skip }, () => {
  let reg: Started | undefined;
  let client: RegistryClient;
  before(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ credentials: anonymous, retry: { baseMs: 5, maxMs: 20 } });
  });
  after(async () => {
    await client?.close();
    await stop(reg);
  });

  it("pushes blobs (monolithic and chunked) and a manifest, then pulls them back", async () => {
    const r = reg!.registry;
    const config = blob('{"architecture":"wasm","os":"wasip1"}');
    const layer = blob(`\0asm\x01\0\0\0${"x".repeat(10_000)}`);
    await client.uploadBlob(r, "test/hello", config.desc, () => Readable.from([config.bytes]));
    await client.uploadBlob(r, "test/hello", layer.desc, () => Readable.from([layer.bytes]), {
      chunkSize: 4096,
    });
    assert.equal(await client.blobExists(r, "test/hello", layer.desc), true);
    assert.equal(await client.blobExists(r, "test/hello", config.desc), true);
    // Uploading again is a no-op (the blob exists).
    await client.uploadBlob(r, "test/hello", layer.desc, layer.bytes);
    // A stream whose bytes differ from the descriptor is refused by the registry.
    const lie = blob("the real bytes");
    await assert.rejects(
      client.uploadBlob(r, "test/hello", { ...lie.desc, digest: sha256("other") }, () =>
        Readable.from([lie.bytes]),
      ),
      (e: ShimError) => e.code === Code.InvalidArgument && /DIGEST_INVALID/.test(e.message),
    );
    const manifest = manifestFor(config, layer);
    const digest = await client.putManifest(r, "test/hello", "v1", manifest, MediaType.OciManifest);
    assert.equal(digest, sha256(manifest));

    const source = registrySource(client, { registry: r, repository: "test/hello", tag: "v1" }, undefined, {
      closeClient: false,
    });
    const got = await source.resolve();
    assert.deepEqual(got.bytes, manifest);
    assert.equal(got.mediaType, MediaType.OciManifest);
    assert.equal(got.digest, digest);
    const byDigest = await source.fetchManifest({
      mediaType: MediaType.OciManifest,
      digest,
      size: manifest.length,
    });
    assert.deepEqual(byDigest.bytes, manifest);
    const head = await client.headManifest({ registry: r, repository: "test/hello", tag: "v1" });
    assert.deepEqual(head, { digest, size: manifest.length, mediaType: MediaType.OciManifest });

    const whole = await source.openBlob(layer.desc, 0);
    assert.equal(whole.offset, 0);
    assert.deepEqual(await readAll(whole.stream), layer.bytes);
    const tail = await source.openBlob(layer.desc, 5000);
    assert.equal(tail.offset, 5000);
    assert.deepEqual(await readAll(tail.stream), layer.bytes.subarray(5000));
  });

  it("mounts a blob across repositories, and says false for a blob the source lacks", async () => {
    const r = reg!.registry;
    const b = blob("mount me");
    await client.uploadBlob(r, "test/from", b.desc, b.bytes);
    assert.equal(await client.mountBlob(r, "test/to", "test/from", b.desc), true);
    assert.equal(await client.blobExists(r, "test/to", b.desc), true);
    const missing = blob("never pushed");
    assert.equal(await client.mountBlob(r, "test/to", "test/from", missing.desc), false);
  });

  it("maps unknown manifests and blobs to NotFound with the registry's code", async () => {
    const r = reg!.registry;
    await assert.rejects(
      client.getManifest({ registry: r, repository: "test/hello", tag: "nope" }),
      (e: ShimError) =>
        e.code === Code.NotFound && /MANIFEST_UNKNOWN/.test(e.message) && /\/manifests\/nope/.test(e.message),
    );
    const missing = blob("absent");
    await assert.rejects(
      client.openBlob(r, "test/hello", missing.desc),
      (e: ShimError) => e.code === Code.NotFound && (e.details.status as number) === 404,
    );
  });

  it("refuses a manifest push whose blobs are missing (registry's MANIFEST_BLOB_UNKNOWN)", async () => {
    const r = reg!.registry;
    const manifest = manifestFor(blob("c-missing"), blob("l-missing"));
    await assert.rejects(
      client.putManifest(r, "test/hello", "broken", manifest, MediaType.OciManifest),
      (e: ShimError) => e.code === Code.InvalidArgument && /MANIFEST_BLOB_UNKNOWN/.test(e.message),
    );
  });
});

describe("against docker-registry with htpasswd", { skip }, () => {
  let reg: Started | undefined;
  const creds = (password: string): CredentialProvider => ({
    get: async () => ({ username: "user", password }),
  });
  before(async () => {
    const line = execFileSync("htpasswd", ["-Bbn", "user", "pass"]).toString();
    reg = await startRegistry(line);
  });
  after(async () => {
    await stop(reg);
  });

  it("authenticates with Basic credentials from the provider", async () => {
    const client = new RegistryClient({ credentials: creds("pass"), retry: { baseMs: 5, maxMs: 20 } });
    try {
      const r = reg!.registry;
      await client.ping(r);
      const b = blob("secret layer");
      await client.uploadBlob(r, "private/app", b.desc, b.bytes);
      const opened = await client.openBlob(r, "private/app", b.desc);
      assert.deepEqual(await readAll(opened.stream), b.bytes);
    } finally {
      await client.close();
    }
  });

  it("a wrong password is Unauthenticated, with a login hint and no secret in the message", async () => {
    const client = new RegistryClient({
      credentials: creds("wrong-secret"),
      retry: { baseMs: 5, maxMs: 20 },
    });
    try {
      const r = reg!.registry;
      await assert.rejects(
        client.getManifest({ registry: r, repository: "private/app", tag: "v1" }),
        (e: ShimError) => {
          assert.equal(e.code, Code.Unauthenticated);
          assert.match(e.message, /docker login 127\.0\.0\.1/);
          assert.doesNotMatch(e.message, /wrong-secret/);
          return true;
        },
      );
    } finally {
      await client.close();
    }
  });

  it("anonymous access is Unauthenticated", async () => {
    const client = new RegistryClient({ credentials: anonymous });
    try {
      await assert.rejects(
        client.getManifest({ registry: reg!.registry, repository: "private/app", tag: "v1" }),
        (e: ShimError) => e.code === Code.Unauthenticated,
      );
    } finally {
      await client.close();
    }
  });
});
