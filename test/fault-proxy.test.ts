/**
 * The fault proxy itself: each fault does what the pull tests rely on, so a passing fault test means the
 * puller survived the fault, not that no fault happened.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, get, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { type FaultProxy, startFaultProxy } from "./harness/fault-proxy.js";
import { close, listen } from "./harness/net.js";

const BODY = randomBytes(256 * 1024);

/** GET through plain node:http so a reset or a short body is seen as it happened. */
function fetchRaw(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; error?: string }>(
    (resolve, reject) => {
      const req = get(url, { headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        const done = (error?: string) =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            ...(error ? { error } : {}),
          });
        res.on("end", () => done());
        res.on("error", (e) => done(e.message));
        res.on("aborted", () => done("aborted"));
      });
      req.on("error", reject);
    },
  );
}

describe("fault proxy", () => {
  let upstream: Server;
  let target = "";
  let proxy: FaultProxy;
  before(async () => {
    upstream = createServer((req, res) => {
      if (req.url === "/redirect") {
        res.writeHead(307, { location: `http://${target}/blob` });
        res.end();
        return;
      }
      const m = /bytes=(\d+)-/.exec(req.headers.range ?? "");
      const start = m ? Number(m[1]) : 0;
      res.writeHead(m ? 206 : 200, { "content-length": String(BODY.length - start) });
      res.end(BODY.subarray(start));
    });
    target = await listen(upstream);
    proxy = await startFaultProxy(target);
  });
  after(async () => {
    await proxy.stop();
    await close(upstream);
  });

  test("passes through untouched without rules, Range included", async () => {
    proxy.setRules([]);
    const full = await fetchRaw(`http://${proxy.host}/blob`);
    assert.ok(full.body.equals(BODY));
    const part = await fetchRaw(`http://${proxy.host}/blob`, { range: "bytes=1000-" });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(BODY.subarray(1000)));
    assert.equal(proxy.requests.at(-1)?.range, "bytes=1000-");
  });

  test("status faults hit only the chosen occurrence, with Retry-After", async () => {
    proxy.setRules([
      { path: /^\/blob$/, occurrences: [2], fault: { kind: "status", status: 429, retryAfter: 1 } },
    ]);
    assert.equal((await fetchRaw(`http://${proxy.host}/blob`)).status, 200);
    const second = await fetchRaw(`http://${proxy.host}/blob`);
    assert.equal(second.status, 429);
    assert.equal(second.headers["retry-after"], "1");
    assert.equal((await fetchRaw(`http://${proxy.host}/blob`)).status, 200);
    assert.deepEqual(proxy.injected, [1]);
  });

  test("reset and truncate cut the body after N bytes", async () => {
    for (const kind of ["reset", "truncate"] as const) {
      proxy.setRules([{ path: /blob/, fault: { kind, afterBytes: 10_000 } }]);
      const res = await fetchRaw(`http://${proxy.host}/blob`).catch((e: Error) => ({
        error: e.message,
        body: Buffer.alloc(0),
      }));
      assert.ok(res.body.length <= 10_000, `${kind}: got ${res.body.length} bytes`);
      assert.ok(res.body.equals(BODY.subarray(0, res.body.length)));
      assert.ok(res.error, `${kind}: the client saw an error`);
      assert.equal(proxy.total(), 1);
    }
  });

  test("flip inverts exactly one byte", async () => {
    proxy.setRules([{ path: /blob/, fault: { kind: "flip", offset: 100_000 } }]);
    const res = await fetchRaw(`http://${proxy.host}/blob`);
    assert.equal(res.body.length, BODY.length);
    const diff = [...res.body.keys()].filter((i) => res.body[i] !== BODY[i]);
    assert.deepEqual(diff, [100_000]);
  });

  test("slow delivers everything, late", async () => {
    proxy.setRules([{ path: /blob/, fault: { kind: "slow", chunkBytes: 64 * 1024, delayMs: 50 } }]);
    const t0 = Date.now();
    const res = await fetchRaw(`http://${proxy.host}/blob`);
    assert.ok(res.body.equals(BODY));
    assert.ok(Date.now() - t0 >= 150);
  });

  test("Location headers pointing at the target are rewritten to the proxy", async () => {
    proxy.setRules([]);
    const res = await fetchRaw(`http://${proxy.host}/redirect`);
    assert.equal(res.headers.location, `http://${proxy.host}/blob`);
  });
});
