/** Client behaviour a real registry cannot be made to show: redirects, retries, hostile sizes, Range. */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, describe, it } from "node:test";
import { json, type LoopbackServer, loopbackServer, type Recorded } from "../../../test/harness/index.js";
import { Code, type ShimError, sha256 } from "../../internal/index.js";
import { MAX_MANIFEST_BYTES } from "../image/index.js";
import { anonymous, RegistryClient, type RegistryClientOptions } from "./registry-client.js";
import { registrySource } from "./registry-source.js";

const servers: LoopbackServer[] = [];
const clients: RegistryClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.close()));
});
async function serve(h: (req: Recorded, res: ServerResponse) => void): Promise<LoopbackServer> {
  const s = await loopbackServer(h);
  servers.push(s);
  return s;
}
function client(opts: RegistryClientOptions = {}): RegistryClient {
  const c = new RegistryClient({
    credentials: anonymous,
    retry: { attempts: 4, baseMs: 1, maxMs: 5 },
    ...opts,
  });
  clients.push(c);
  return c;
}
async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let s = "";
  for await (const c of stream) s += c.toString();
  return s;
}
const BLOB = Buffer.from("0123456789abcdef");
const desc = { mediaType: "application/wasm", digest: sha256(BLOB), size: BLOB.length };
const MANIFEST = Buffer.from(
  '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
);

describe("redirects", () => {
  it("follows a blob redirect to another host without Authorization, keeping Range", async () => {
    const storage = await serve((req, res) => {
      const from = Number(/bytes=(\d+)-/.exec(String(req.headers.range))?.[1] ?? 0);
      res.writeHead(
        from ? 206 : 200,
        from ? { "content-range": `bytes ${from}-${BLOB.length - 1}/${BLOB.length}` } : {},
      );
      res.end(BLOB.subarray(from));
    });
    const reg = await serve((req, res) => {
      if (req.headers.authorization !== "Bearer tok") {
        res.writeHead(401, { "www-authenticate": `Bearer realm="http://127.0.0.1:${tokens.port}/t"` });
        res.end();
        return;
      }
      res.writeHead(307, { location: `http://localhost:${storage.port}/bucket/blob?sig=1` });
      res.end();
    });
    const tokens = await serve((_req, res) => json(res, 200, { token: "tok" }));
    const opened = await client().openBlob(reg.host, "org/app", desc, 4);
    assert.equal(opened.offset, 4);
    assert.equal(await text(opened.stream), BLOB.subarray(4).toString());
    assert.equal(storage.requests.length, 1);
    assert.equal(storage.requests[0]!.headers.authorization, undefined);
    assert.equal(storage.requests[0]!.headers.range, "bytes=4-");
    assert.equal(reg.requests.at(-1)!.headers.authorization, "Bearer tok");
  });

  it("keeps Authorization on a same-origin redirect", async () => {
    const basic = `Basic ${Buffer.from("u:p").toString("base64")}`;
    const reg = await serve((req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="r"' });
        res.end();
      } else if (req.url.startsWith("/v2/")) {
        res.writeHead(302, { location: "/moved/blob" });
        res.end();
      } else res.end(BLOB);
    });
    const c = client({ credentials: { get: async () => ({ username: "u", password: "p" }) } });
    assert.equal(await text((await c.openBlob(reg.host, "org/app", desc)).stream), BLOB.toString());
    assert.equal(reg.requests.at(-1)!.url, "/moved/blob");
  });

  it("stops after 10 redirects", async () => {
    const reg = await serve((req, res) => {
      res.writeHead(302, { location: `${req.url.split("?")[0]}?n=${Math.random()}` });
      res.end();
    });
    await assert.rejects(client().openBlob(reg.host, "org/app", desc), (e: ShimError) =>
      /more than 10 redirects/.test(e.message),
    );
    assert.equal(reg.requests.length, 11);
  });
});

describe("retries", () => {
  it("retries 500 and 502 then succeeds", async () => {
    let n = 0;
    const reg = await serve((_req, res) => {
      n++;
      if (n < 3) json(res, n === 1 ? 500 : 502, { errors: [{ code: "UNKNOWN", message: "boom" }] });
      else res.end(BLOB);
    });
    assert.equal(await text((await client().openBlob(reg.host, "org/app", desc)).stream), BLOB.toString());
    assert.equal(reg.requests.length, 3);
  });

  it("waits as long as Retry-After says on 429", async () => {
    let n = 0;
    const reg = await serve((_req, res) => {
      if (n++ === 0)
        json(res, 429, { errors: [{ code: "TOOMANYREQUESTS", message: "slow" }] }, { "retry-after": "1" });
      else res.end(BLOB);
    });
    const t0 = Date.now();
    await (await client().openBlob(reg.host, "org/app", desc)).stream.resume();
    assert.ok(Date.now() - t0 >= 950, `waited ${Date.now() - t0} ms`);
  });

  it("fails at once with ResourceExhausted when Retry-After is beyond the cap", async () => {
    const reg = await serve((_req, res) =>
      json(res, 429, { errors: [{ code: "TOOMANYREQUESTS", message: "slow" }] }, { "retry-after": "3600" }),
    );
    await assert.rejects(client().openBlob(reg.host, "org/app", desc), (e: ShimError) => {
      assert.equal(e.code, Code.ResourceExhausted);
      assert.equal(e.temporary, true);
      assert.equal(e.details.retryAfterMs, 3_600_000);
      assert.match(e.message, /TOOMANYREQUESTS: slow.*wait 3600 s/);
      return true;
    });
    assert.equal(reg.requests.length, 1);
  });

  it("retries a connection reset", async () => {
    let n = 0;
    const reg = await serve((req, res) => {
      if (n++ === 0) req.socket.destroy();
      else res.end(BLOB);
    });
    assert.equal(await text((await client().openBlob(reg.host, "org/app", desc)).stream), BLOB.toString());
    assert.equal(reg.requests.length, 2);
  });

  it("is bounded: a registry that keeps failing gets `attempts` requests, then Unavailable", async () => {
    const reg = await serve((_req, res) =>
      json(res, 503, { errors: [{ code: "UNAVAILABLE", message: "maintenance" }] }),
    );
    const t0 = Date.now();
    await assert.rejects(
      client().getManifest({ registry: reg.host, repository: "org/app", tag: "v1" }),
      (e: ShimError) => {
        assert.equal(e.code, Code.Unavailable);
        assert.equal(e.temporary, true);
        assert.match(
          e.message,
          /GET 127\.0\.0\.1:\d+\/v2\/org\/app\/manifests\/v1 returned HTTP 503 \(UNAVAILABLE: maintenance\)/,
        );
        return true;
      },
    );
    assert.equal(reg.requests.length, 4);
    assert.ok(Date.now() - t0 < 1000);
  });

  it("a refused connection is Unavailable after retries, naming the host", async () => {
    const gone = await serve(() => {});
    await gone.close();
    await assert.rejects(
      client().getManifest({ registry: gone.host, repository: "org/app", tag: "v1" }),
      (e: ShimError) =>
        e.code === Code.Unavailable && e.message.includes(gone.host) && /ECONNREFUSED/.test(e.message),
    );
  });

  it("does not retry a PATCH (a chunk may have landed)", async () => {
    const reg = await serve((req, res) => {
      if (req.method === "HEAD") res.writeHead(404).end();
      else if (req.method === "POST")
        res.writeHead(202, { location: "/v2/org/app/blobs/uploads/u1?_state=abc" }).end();
      else json(res, 500, {});
    });
    await assert.rejects(
      client().uploadBlob(reg.host, "org/app", desc, BLOB, { chunkSize: 4 }),
      (e: ShimError) => {
        assert.equal(e.code, Code.Unavailable);
        assert.doesNotMatch(e.message, /_state/);
        return true;
      },
    );
    assert.equal(reg.requests.filter((r) => r.method === "PATCH").length, 1);
  });
});

describe("manifests", () => {
  it("maps a 404 error body to NotFound with the registry's codes in details", async () => {
    const reg = await serve((_req, res) =>
      json(res, 404, {
        errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: "v9" } }],
      }),
    );
    await assert.rejects(
      client().getManifest({ registry: reg.host, repository: "org/app", tag: "v9" }),
      (e: ShimError) => {
        assert.equal(e.code, Code.NotFound);
        assert.match(
          e.message,
          /manifest 127\.0\.0\.1:\d+\/org\/app:v9: GET .* HTTP 404 \(MANIFEST_UNKNOWN: manifest unknown\)/,
        );
        assert.deepEqual(e.details.errors, [
          { code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: "v9" } },
        ]);
        return true;
      },
    );
  });

  it("sends the manifest Accept list and by-digest requests verify the bytes", async () => {
    const reg = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/vnd.oci.image.index.v1+json" });
      res.end(MANIFEST);
    });
    const c = client();
    const good = await c.getManifest({ registry: reg.host, repository: "org/app", digest: sha256(MANIFEST) });
    assert.equal(good.digest, sha256(MANIFEST));
    assert.match(
      String(reg.requests[0]!.headers.accept),
      /application\/vnd\.oci\.image\.index\.v1\+json.*docker\.distribution\.manifest\.v2\+json/,
    );
    assert.equal(reg.requests[0]!.url, `/v2/org/app/manifests/${sha256(MANIFEST)}`);
    const other = sha256("something else");
    await assert.rejects(
      c.getManifest({ registry: reg.host, repository: "org/app", tag: "v1", digest: other }),
      (e: ShimError) => e.code === Code.DataLoss,
    );
    assert.equal(reg.requests[1]!.url, `/v2/org/app/manifests/${other}`, "the digest wins over the tag");
  });

  it("takes the media type from the body when Content-Type is generic", async () => {
    const reg = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(MANIFEST);
    });
    const m = await client().getManifest({ registry: reg.host, repository: "org/app", tag: "v1" });
    assert.equal(m.mediaType, "application/vnd.oci.image.index.v1+json");
  });

  it("stops reading a manifest over 4 MiB, declared or streamed", async () => {
    const huge = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
    const reg = await serve((req, res) => {
      if (req.url.endsWith("declared")) res.writeHead(200, { "content-length": huge.length });
      else res.writeHead(200, { "transfer-encoding": "chunked" });
      res.end(huge);
    });
    const said = {
      // One sentence each: what the registry declared or sent, and the limit (not "declares N bytes than").
      declared: `the registry declares ${huge.length} bytes, more than the 4194304-byte manifest limit`,
      streamed: "the registry sent more than the 4194304-byte manifest limit",
    };
    for (const tag of ["declared", "streamed"] as const) {
      await assert.rejects(
        client().getManifest({ registry: reg.host, repository: "org/app", tag }),
        (e: ShimError) => e.code === Code.ResourceExhausted && e.rawMessage.includes(said[tag]),
      );
    }
  });

  it("HEAD gives digest and size; falls back to GET when the digest header is missing or HEAD is 405", async () => {
    const reg = await serve((req, res) => {
      const headers: Record<string, string | number> = {
        "content-type": "application/vnd.oci.image.index.v1+json",
        "content-length": MANIFEST.length,
      };
      if (req.url.endsWith("/v1")) headers["docker-content-digest"] = sha256(MANIFEST);
      if (req.method === "HEAD" && req.url.endsWith("/v3")) res.writeHead(405).end();
      else res.writeHead(200, headers).end(req.method === "HEAD" ? undefined : MANIFEST);
    });
    const c = client();
    const want = {
      digest: sha256(MANIFEST),
      size: MANIFEST.length,
      mediaType: "application/vnd.oci.image.index.v1+json",
    };
    for (const tag of ["v1", "v2", "v3"]) {
      assert.deepEqual(await c.headManifest({ registry: reg.host, repository: "org/app", tag }), want);
    }
    assert.deepEqual(
      reg.requests.map((r) => `${r.method} ${r.url.split("/").at(-1)}`),
      ["HEAD v1", "HEAD v2", "GET v2", "HEAD v3", "GET v3"],
    );
  });

  it("a registry source checks child manifests against their descriptor size", async () => {
    const reg = await serve((_req, res) =>
      res.writeHead(200, { "content-type": "application/vnd.oci.image.index.v1+json" }).end(MANIFEST),
    );
    const src = registrySource(
      client(),
      { registry: reg.host, repository: "org/app", tag: "v1" },
      undefined,
      { closeClient: false },
    );
    assert.equal(src.name, `${reg.host}/org/app:v1`);
    const d = {
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: sha256(MANIFEST),
      size: MANIFEST.length,
    };
    assert.deepEqual((await src.fetchManifest(d)).bytes, MANIFEST);
    await assert.rejects(
      src.fetchManifest({ ...d, size: d.size + 1 }),
      (e: ShimError) => e.code === Code.DataLoss,
    );
    await assert.rejects(
      src.fetchManifest({ ...d, size: MAX_MANIFEST_BYTES + 1 }),
      (e: ShimError) => e.code === Code.ResourceExhausted,
    );
  });
});

describe("blobs", () => {
  it("a 200 to a Range request means offset 0 and the whole body", async () => {
    const reg = await serve((_req, res) => res.end(BLOB));
    const opened = await client().openBlob(reg.host, "org/app", desc, 8);
    assert.equal(opened.offset, 0);
    assert.equal(await text(opened.stream), BLOB.toString());
    assert.equal(reg.requests[0]!.headers.range, "bytes=8-");
  });

  it("refuses a 206 that starts somewhere else", async () => {
    const reg = await serve((_req, res) =>
      res.writeHead(206, { "content-range": `bytes 2-15/16` }).end(BLOB.subarray(2)),
    );
    await assert.rejects(
      client().openBlob(reg.host, "org/app", desc, 8),
      (e: ShimError) => e.code === Code.Unavailable && e.temporary,
    );
  });

  it("uploads in chunks with inclusive Content-Range and follows each Location", async () => {
    let n = 0;
    const reg = await serve((req, res) => {
      if (req.method === "HEAD") res.writeHead(404).end();
      else if (req.method === "POST") res.writeHead(202, { location: "/up/0" }).end();
      else if (req.method === "PATCH")
        res
          .writeHead(202, { location: `${req.url.split("/").slice(0, -1).join("/")}/${++n}?_state=s${n}` })
          .end();
      else res.writeHead(201).end();
    });
    await client().uploadBlob(reg.host, "org/app", desc, BLOB, { chunkSize: 6 });
    const patches = reg.requests.filter((r) => r.method === "PATCH");
    assert.deepEqual(
      patches.map((r) => [r.url, r.headers["content-range"], r.body.toString()]),
      [
        ["/up/0", "0-5", "012345"],
        ["/up/1?_state=s1", "6-11", "6789ab"],
        ["/up/2?_state=s2", "12-15", "cdef"],
      ],
    );
    const put = reg.requests.at(-1)!;
    assert.equal(put.method, "PUT");
    assert.equal(put.url, `/up/3?_state=s3&digest=${encodeURIComponent(desc.digest)}`);
  });

  it("refuses bytes that do not match their descriptor before sending anything", async () => {
    const reg = await serve((_req, res) => res.end());
    await assert.rejects(
      client().uploadBlob(reg.host, "org/app", { ...desc, size: 3 }, BLOB),
      (e: ShimError) => e.code === Code.InvalidArgument,
    );
    assert.equal(reg.requests.length, 0);
  });
});

describe("lifecycle", () => {
  it("an aborted signal cancels a request that is waiting to retry", async () => {
    const reg = await serve((_req, res) => json(res, 503, {}));
    const c = client({ retry: { attempts: 5, baseMs: 10_000, maxMs: 10_000 } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    await assert.rejects(
      c.getManifest({ registry: reg.host, repository: "org/app", tag: "v1" }, { signal: ac.signal }),
      (e: ShimError) => e.code === Code.Canceled,
    );
    assert.ok(Date.now() - t0 < 2000);
  });

  it("close() does not hang on a blob stream nobody finished reading", async () => {
    const reg = await serve((_req, res) => {
      res.writeHead(200, { "content-length": 1 << 20 });
      res.write(Buffer.alloc(1024));
    });
    const c = new RegistryClient({ credentials: anonymous });
    const opened = await c.openBlob(reg.host, "org/app", desc);
    opened.stream.on("error", () => {});
    const t0 = Date.now();
    await c.close();
    assert.ok(Date.now() - t0 < 3000);
  });
});
