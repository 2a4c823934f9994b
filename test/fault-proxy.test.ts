/**
 * The fault proxy itself: each fault does what the pull tests rely on, so a passing fault test means the
 * puller survived the fault, not that no fault happened.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, get, request, type Server } from "node:http";
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

  /** What a GET saw within `ms`: the status (0: no headers), body bytes, and whether the response ended. */
  const watch = (path: string, ms: number) =>
    new Promise<{ status: number; bytes: number; ended: boolean }>((resolve) => {
      const seen = { status: 0, bytes: 0, ended: false };
      const req = get(`http://${proxy.host}${path}`, { agent: false }, (res) => {
        seen.status = res.statusCode ?? 0;
        res.on("data", (c: Buffer) => (seen.bytes += c.length));
        res.on("end", () => (seen.ended = true));
        res.on("error", () => (seen.ended = true));
      });
      req.on("error", () => (seen.ended = true));
      setTimeout(() => {
        req.destroy();
        resolve(seen);
      }, ms);
    });

  test("silence takes the request and never answers, holding the connection", async () => {
    proxy.setRules([{ path: /blob/, fault: { kind: "silence" } }]);
    assert.deepEqual(await watch("/blob", 1000), { status: 0, bytes: 0, ended: false });
    assert.equal(proxy.total(), 1);
  });

  test("stall sends the headers and N body bytes, then nothing, holding the connection", async () => {
    for (const afterBytes of [0, 4096]) {
      proxy.setRules([{ path: /blob/, fault: { kind: "stall", afterBytes } }]);
      assert.deepEqual(await watch("/blob", 1000), { status: 200, bytes: afterBytes, ended: false });
    }
  });

  test("answer gives exactly the answer asked for, without asking the target", async () => {
    proxy.setRules([
      {
        path: /blob/,
        fault: { kind: "answer", status: 307, headers: { location: "http://elsewhere/x" }, body: "go" },
      },
    ]);
    const res = await fetchRaw(`http://${proxy.host}/blob`);
    assert.equal(res.status, 307);
    assert.equal(res.headers.location, "http://elsewhere/x");
    assert.equal(res.body.toString(), "go");
  });

  test("endless answers 200 and keeps sending, never ending the body", async () => {
    proxy.setRules([{ path: /blob/, fault: { kind: "endless", chunk: "abcd", delayMs: 50 } }]);
    const seen = await watch("/blob", 1000);
    assert.equal(seen.status, 200);
    assert.equal(seen.ended, false);
    assert.ok(seen.bytes >= 4 * 5, `kept sending (${seen.bytes} bytes)`);
  });

  test("stall-request stops reading an upload part way and never answers", async () => {
    proxy.setRules([{ method: "PUT", path: /blob/, fault: { kind: "stall-request", afterBytes: 10_000 } }]);
    const total = 64 * 1024 * 1024;
    const seen = await new Promise<{ answered: boolean; written: number; drained: boolean }>((resolve) => {
      const state = { answered: false, written: 0, drained: true };
      const req = request(`http://${proxy.host}/blob`, {
        method: "PUT",
        agent: false,
        headers: { "content-length": String(total) },
      });
      req.on("response", () => (state.answered = true));
      req.on("error", () => {});
      const piece = Buffer.alloc(1024 * 1024);
      const pump = () => {
        while (state.written < total) {
          state.written += piece.length;
          if (!req.write(piece)) {
            state.drained = false;
            req.once("drain", () => {
              state.drained = true;
              pump();
            });
            return;
          }
        }
      };
      pump();
      setTimeout(() => {
        req.destroy();
        resolve(state);
      }, 1500);
    });
    assert.equal(seen.answered, false, "no answer came");
    assert.ok(
      !seen.drained && seen.written < total,
      `the upload backed up (${seen.written} of ${total} written)`,
    );
  });

  test("Location headers pointing at the target are rewritten to the proxy", async () => {
    proxy.setRules([]);
    const res = await fetchRaw(`http://${proxy.host}/redirect`);
    assert.equal(res.headers.location, `http://${proxy.host}/blob`);
  });
});
