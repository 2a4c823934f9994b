/**
 * Stalled registries (issue 10, item 2): peers that accept a connection and never answer, send headers and
 * then nothing, stop part way through a body, stop reading an upload, or never complete the connection at
 * all; and the same from a token server. Against a real registry behind the fault proxy, with a 1 s timeout
 * set through the option users set (`registryTimeoutMs`, the CLI's --registry-timeout), each must fail with
 * DeadlineExceeded naming the host and the phase, after at most two tries, or get through when the stall
 * was once and the retry policy can resume. A trickle that keeps moving is never given up.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ShimError, sha256 } from "../src/internal/index.js";
import { buildImage } from "../src/oci/build/build.js";
import { writeLayout } from "../src/oci/build/layout-writer.js";
import { copyByName } from "../src/oci/copy/copy-by-name.js";
import { pull } from "../src/oci/pull/pull.js";
import { type FaultProxy, type FaultRule, startFaultProxy } from "./harness/fault-proxy.js";
import { bigModule, helloModule } from "./harness/modules.js";
import { startBlackhole } from "./harness/net.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { bytesFigure, recordFigures } from "./harness/reliability.js";
import { checkStore } from "./harness/store-check.js";
import { startTokenServer, type TokenServer } from "./harness/token-server.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm", "perl", "openssl");
const SIZE = 512 * 1024;
/** The timeout every stalled case runs with: short, so nothing here waits long. */
const TIMEOUT_MS = 1000;
/** A generous bound on how long a stalled case may take (two tries of 1 s, plus a loaded machine). */
const BOUND_MS = 20_000;

/** Asserts `err` is the stall error: DeadlineExceeded, temporary or not, naming `host` and matching `phase`. */
function assertStall(err: unknown, host: string, phase: RegExp): ShimError {
  assert.ok(err instanceof ShimError, `want a ShimError, got ${String(err)}`);
  assert.equal(Code[err.code], Code[Code.DeadlineExceeded], err.message);
  assert.ok(err.message.includes(host), `names the host ${host}: ${err.message}`);
  assert.match(err.message, phase);
  assert.match(err.message, /--registry-timeout or NODEWASI_REGISTRY_TIMEOUT \(now 1s\)/);
  return err;
}

describe("stalled registries", { skip: skip ?? false }, () => {
  let registry: Registry;
  let proxy: FaultProxy;
  const dirs: string[] = [];
  let module: Buffer;
  let layerPath: RegExp;
  const manifestPath = /\/manifests\//;

  before(async () => {
    registry = await startRegistry();
    module = bigModule("hello through stalls", SIZE);
    layerPath = new RegExp(`/blobs/${sha256(module)}$`);
    await pushBuilt(registry.host, "stalls/raw:v1", buildImage({ module, format: "artifact" }));
    proxy = await startFaultProxy(registry.host);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodewasi-stalls-"));
    dirs.push(dir);
    return dir;
  };

  /** Pulls `stalls/raw:v1` through the proxy with `rules` and the 1 s timeout, into a fresh store. */
  const pullWith = async (rules: FaultRule[], repoTag = "stalls/raw:v1") => {
    proxy.setRules(rules);
    const root = await tempDir();
    const first = proxy.requests.length;
    const t0 = Date.now();
    const run = pull(`${proxy.host}/${repoTag}`, { root, plainHttp: true, registryTimeoutMs: TIMEOUT_MS });
    run.catch(() => {});
    return {
      run,
      root,
      elapsed: () => Date.now() - t0,
      requests: (path: RegExp) => proxy.requests.slice(first).filter((r) => path.test(r.path)),
    };
  };

  test("a registry that takes the request and never answers: DeadlineExceeded after two tries", async (t) => {
    const p = await pullWith([
      { method: "GET", path: manifestPath, occurrences: "all", fault: { kind: "silence" } },
    ]);
    const err = await p.run.then(
      () => assert.fail("the pull succeeded"),
      (e: unknown) => e,
    );
    assertStall(err, proxy.host, /connected to 127\.0\.0\.1:\d+, but no answer came within 1s \(2 tries\)/);
    assert.equal(p.requests(manifestPath).length, 2, "tried twice, not five times");
    assert.ok(p.elapsed() < BOUND_MS, `gave up in ${p.elapsed()} ms`);
    recordFigures(t, {
      stall: "request never answered",
      timeout: "1 s",
      tries: 2,
      error: "DeadlineExceeded",
    });
  });

  test("headers, then a body that never comes: DeadlineExceeded naming the host, no blob stored", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, occurrences: "all", fault: { kind: "stall", afterBytes: 0 } },
    ]);
    const err = await p.run.then(
      () => assert.fail("the pull succeeded"),
      (e: unknown) => e,
    );
    assertStall(err, proxy.host, /stopped sending the response: nothing for 1s after 0 bytes/);
    assert.equal(p.requests(layerPath).length, 2, "one resume, then given up");
    const store = await checkStore(p.root);
    assert.ok(!store.blobs.includes(sha256(module).slice(7)), "no blob stored");
    assert.ok(p.elapsed() < BOUND_MS, `gave up in ${p.elapsed()} ms`);
    recordFigures(t, { stall: "headers, then no body", timeout: "1 s", tries: 2, "blobs stored": 0 });
  });

  test("4 KiB of a blob, then silence, every time: given up at the second stall", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, occurrences: "all", fault: { kind: "stall", afterBytes: 4096 } },
    ]);
    const err = await p.run.then(
      () => assert.fail("the pull succeeded"),
      (e: unknown) => e,
    );
    assertStall(err, proxy.host, /nothing for 1s after \d+ bytes/);
    const gets = p.requests(layerPath);
    assert.equal(gets.length, 2, "the first try, and one resume");
    assert.equal(gets[1]?.range, "bytes=4096-", "the resume asked for the rest with Range");
    const store = await checkStore(p.root);
    assert.ok(!store.blobs.includes(sha256(module).slice(7)), "no blob stored");
    recordFigures(t, { stall: "after 4 KiB", timeout: "1 s", tries: 2, resumed: "with Range" });
  });

  test("4 KiB of a blob, then silence, once: resumed with Range, the blob verifies", async (t) => {
    const p = await pullWith([
      { method: "GET", path: layerPath, fault: { kind: "stall", afterBytes: 4096 } },
    ]);
    const result = await p.run;
    assert.equal(sha256(await readFile(result.module.path)), sha256(module));
    const gets = p.requests(layerPath);
    assert.deepEqual(
      gets.map((g) => g.range),
      [undefined, "bytes=4096-"],
    );
    await checkStore(p.root);
    recordFigures(t, {
      stall: "after 4 KiB, once",
      timeout: "1 s",
      resumed: "with Range",
      bytes: bytesFigure(SIZE),
    });
  });

  test("a trickle that keeps moving is never given up, though it lasts longer than the timeout", async (t) => {
    // 48 KiB every 250 ms: eleven pieces take 2.5 s or more, each gap a quarter of the timeout.
    const p = await pullWith([
      { method: "GET", path: layerPath, fault: { kind: "slow", chunkBytes: 48 * 1024, delayMs: 250 } },
    ]);
    const result = await p.run;
    assert.equal(sha256(await readFile(result.module.path)), sha256(module));
    assert.ok(p.elapsed() > TIMEOUT_MS * 2, `the trickle took ${p.elapsed()} ms`);
    assert.equal(p.requests(layerPath).length, 1, "one request: never interrupted");
    recordFigures(t, {
      pace: "48 KiB per 250 ms",
      timeout: "1 s",
      "given up": false,
      bytes: bytesFigure(SIZE),
    });
  });

  test("a manifest streamed forever, a few bytes at a time, is given up within the timeout", async (t) => {
    const p = await pullWith([
      {
        method: "GET",
        path: manifestPath,
        occurrences: "all",
        fault: {
          kind: "endless",
          headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
          chunk: "                ",
          delayMs: 200,
        },
      },
    ]);
    const err = await p.run.then(
      () => assert.fail("the pull succeeded"),
      (e: unknown) => e,
    );
    assertStall(err, proxy.host, /did not send the whole response within 1s after \d+ bytes \(2 tries\)/);
    assert.equal(p.requests(manifestPath).length, 2);
    assert.ok(p.elapsed() < BOUND_MS, `gave up in ${p.elapsed()} ms`);
    recordFigures(t, {
      pace: "16 bytes per 200 ms, forever",
      timeout: "1 s",
      tries: 2,
      error: "DeadlineExceeded",
    });
  });

  test("a manifest whose body breaks part way is asked for again, and the pull succeeds", async (t) => {
    const p = await pullWith([
      { method: "GET", path: manifestPath, fault: { kind: "reset", afterBytes: 100 } },
    ]);
    const result = await p.run;
    assert.equal(sha256(await readFile(result.module.path)), sha256(module));
    assert.equal(p.requests(manifestPath).length, 2);
    recordFigures(t, { fault: "reset after 100 manifest bytes", tries: 2, pulled: true });
  });

  test("a host whose connections never complete: DeadlineExceeded naming the connect phase", async (t) => {
    const hole = await startBlackhole();
    try {
      const t0 = Date.now();
      const err = await pull(`${hole.host}/stalls/raw:v1`, {
        root: await tempDir(),
        plainHttp: true,
        registryTimeoutMs: TIMEOUT_MS,
      }).then(
        () => assert.fail("the pull succeeded"),
        (e: unknown) => e,
      );
      assertStall(err, hole.host, /could not connect to 127\.0\.0\.1:\d+ within 1s \(2 tries\)/);
      assert.ok(Date.now() - t0 < BOUND_MS);
      recordFigures(t, { stall: "connect never completes", timeout: "1 s", tries: 2 });
    } finally {
      await hole.stop();
    }
  });

  test("a blob redirected to a storage host that never connects: the error names the storage host", async (t) => {
    const hole = await startBlackhole();
    try {
      const p = await pullWith([
        {
          method: "GET",
          path: layerPath,
          occurrences: "all",
          fault: { kind: "answer", status: 307, headers: { location: `http://${hole.host}/storage/blob` } },
        },
      ]);
      const err = await p.run.then(
        () => assert.fail("the pull succeeded"),
        (e: unknown) => e,
      );
      const e = assertStall(err, hole.host, /GET 127\.0\.0\.1:\d+\/storage\/blob: could not connect/);
      assert.ok(!e.rawMessage.includes(`GET ${proxy.host}`), `does not blame the registry: ${e.rawMessage}`);
      recordFigures(t, { redirect: "to a host that never connects", "host named": "the storage host" });
    } finally {
      await hole.stop();
    }
  });

  test("an HTML page where the manifest should be: Unavailable naming the host, not corrupt content", async (t) => {
    const p = await pullWith([
      {
        method: "GET",
        path: manifestPath,
        fault: {
          kind: "answer",
          status: 200,
          headers: { "content-type": "text/html" },
          body: "<html><body>Log in to the hotel network</body></html>",
        },
      },
    ]);
    const err = await p.run.then(
      () => assert.fail("the pull succeeded"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ShimError, String(err));
    assert.equal(Code[err.code], Code[Code.Unavailable], err.message);
    assert.match(
      err.rawMessage,
      /127\.0\.0\.1:\d+ answered GET \/v2\/stalls\/raw\/manifests\/v1 with an HTML page/,
    );
    assert.match(err.rawMessage, /check the registry address/);
    recordFigures(t, { answer: "200 text/html for the manifest", error: "Unavailable (exit 5)" });
  });

  describe("push", () => {
    let layout: string;
    let layer: string;
    let n = 0;
    before(async () => {
      layout = join(await tempDir(), "layout");
      const pushed = helloModule("pushed through stalls");
      layer = sha256(pushed).slice(7);
      const image = buildImage({ module: pushed, format: "artifact" });
      await writeLayout(layout, [{ image, tag: "v1" }]);
    });
    const pushWith = async (rules: FaultRule[]) => {
      proxy.setRules(rules);
      const first = proxy.requests.length;
      const run = copyByName(`oci:${layout}:v1`, `${proxy.host}/stalls/push${++n}:v1`, {
        plainHttp: true,
        registryTimeoutMs: TIMEOUT_MS,
      });
      run.catch(() => {});
      return {
        run,
        requests: (m: string, path: RegExp) =>
          proxy.requests.slice(first).filter((r) => r.method === m && path.test(r.path)),
      };
    };

    test("a registry that stops reading the blob upload: DeadlineExceeded after two sessions", async (t) => {
      const put = new RegExp(`/blobs/uploads/.*digest=sha256%3A${layer}`);
      const p = await pushWith([
        { method: "PUT", path: put, occurrences: "all", fault: { kind: "stall-request", afterBytes: 100 } },
      ]);
      const err = await p.run.then(
        () => assert.fail("the push succeeded"),
        (e: unknown) => e,
      );
      assertStall(err, proxy.host, /stopped taking the request body, or did not answer it, within 1s/);
      assert.equal(p.requests("PUT", put).length, 2, "two upload sessions, then given up");
      recordFigures(t, { stall: "upload no longer read", timeout: "1 s", sessions: 2 });
    });

    test("a registry that never answers the manifest PUT: DeadlineExceeded after two tries", async (t) => {
      const p = await pushWith([
        { method: "PUT", path: manifestPath, occurrences: "all", fault: { kind: "silence" } },
      ]);
      const err = await p.run.then(
        () => assert.fail("the push succeeded"),
        (e: unknown) => e,
      );
      assertStall(err, proxy.host, /within 1s \(2 tries\)/);
      assert.equal(p.requests("PUT", manifestPath).length, 2);
      recordFigures(t, { stall: "manifest PUT never answered", timeout: "1 s", tries: 2 });
    });
  });

  describe("token server", () => {
    let tokens: TokenServer;
    let tokenProxy: FaultProxy;
    let authed: Registry;

    before(async () => {
      tokens = await startTokenServer({ anonymous: { "*": ["pull", "push"] } });
      tokenProxy = await startFaultProxy(new URL(tokens.realm).host);
      // The registry sends clients to the token server through the proxy.
      const realm = `http://${tokenProxy.host}${new URL(tokens.realm).pathname}`;
      authed = await startRegistry({ token: { ...tokens, realm } });
      await pushBuilt(authed.host, "stalls/raw:v1", buildImage({ module, format: "artifact" }));
    });
    after(async () => {
      await authed?.stop();
      await tokenProxy?.stop();
      await tokens?.stop();
    });

    test("a token server that never answers: DeadlineExceeded naming the token server", async (t) => {
      tokenProxy.setRules([{ path: /./, occurrences: "all", fault: { kind: "silence" } }]);
      const err = await pull(`${authed.host}/stalls/raw:v1`, {
        root: await tempDir(),
        plainHttp: true,
        registryTimeoutMs: TIMEOUT_MS,
      }).then(
        () => assert.fail("the pull succeeded"),
        (e: unknown) => e,
      );
      const e = assertStall(err, tokenProxy.host, /but no answer came within 1s \(2 tries\)/);
      assert.match(e.rawMessage, /^token for 127\.0\.0\.1:\d+ \(repository:stalls\/raw:pull\)/);
      assert.equal(tokenProxy.injected[0], 2, "asked twice");
      recordFigures(t, { stall: "token server never answers", timeout: "1 s", tries: 2 });
    });

    test("a token answer of more than 1 MiB is refused as such, not read as a missing token", async (t) => {
      const huge = JSON.stringify({ token: "t", padding: "x".repeat(2 * 1024 * 1024) });
      tokenProxy.setRules([
        {
          path: /./,
          occurrences: "all",
          fault: { kind: "answer", status: 200, headers: { "content-type": "application/json" }, body: huge },
        },
      ]);
      const err = await pull(`${authed.host}/stalls/raw:v1`, {
        root: await tempDir(),
        plainHttp: true,
        registryTimeoutMs: TIMEOUT_MS,
      }).then(
        () => assert.fail("the pull succeeded"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ShimError, String(err));
      assert.equal(Code[err.code], Code[Code.ResourceExhausted], err.message);
      assert.match(err.rawMessage, /answered with more than 1048576 bytes/);
      assert.ok(err.rawMessage.includes(tokenProxy.host), err.rawMessage);
      recordFigures(t, { answer: "2 MiB token response", error: "ResourceExhausted" });
    });

    test("a token server that answered once, stalling the next time, does not stop a pull that has its token", async () => {
      tokenProxy.setRules([{ path: /./, occurrences: [2, 3], fault: { kind: "silence" } }]);
      const result = await pull(`${authed.host}/stalls/raw:v1`, {
        root: await tempDir(),
        plainHttp: true,
        registryTimeoutMs: TIMEOUT_MS,
      });
      assert.equal(sha256(await readFile(result.module.path)), sha256(module));
    });
  });
});
