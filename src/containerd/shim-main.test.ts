import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { bundleOf, loading, requiredModules } from "../../test/harness/module-loads.js";
import { DeleteResponseSchema, RuntimeInfoSchema } from "../gen/index.js";
import { RUNTIME_TYPE, shimMain, shimVersion } from "./shim-main.js";
import { NAMESPACE_GROUP, socketPath } from "./socket-address.js";

/** The Node launcher (the sh wrapper beside it answers a plain `delete` itself: test/shim-delete-fast.test.ts). */
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bin/containerd-shim-nodewasi-v1.mjs");

async function call(argv: string[], stdin = "") {
  const out: Buffer[] = [];
  let err = "";
  const code = await shimMain(argv, {
    stdout: (d) => out.push(Buffer.from(d)),
    stderr: (t) => (err += t),
    stdin: Readable.from(stdin ? [Buffer.from(stdin)] : []),
    script: "/nonexistent",
  });
  return { code, stdout: Buffer.concat(out), stderr: err };
}

describe("shimMain", () => {
  test("-v and -version print the version and exit 0", async () => {
    for (const flag of ["-v", "-version", "--version"]) {
      const r = await call([flag]);
      assert.equal(r.code, 0);
      assert.match(r.stdout.toString(), new RegExp(`Version:\\s+${shimVersion().replace(/\./g, "\\.")}`));
      assert.equal(r.stderr, "");
    }
  });

  test("-info prints a RuntimeInfo, reading whatever options come on stdin", async () => {
    const r = await call(["-info"], "\x0a\x03abc");
    assert.equal(r.code, 0);
    const info = fromBinary(RuntimeInfoSchema, r.stdout);
    assert.equal(info.name, RUNTIME_TYPE);
    assert.equal(info.version?.version, shimVersion());
  });

  test("delete answers a DeleteResponse (137, now) and exits 0 though no daemon ever ran", async () => {
    const bundle = await mkdtemp(join(tmpdir(), "nodewasi-delete-"));
    try {
      const before = Date.now();
      const r = await call(["-namespace", "ns", "-id", "x", "-bundle", bundle, "delete"]);
      assert.equal(r.code, 0);
      assert.equal(r.stderr, "");
      const res = fromBinary(DeleteResponseSchema, r.stdout);
      assert.equal(res.exitStatus, 137);
      assert.equal(res.pid, 0);
      assert.ok(Number(res.exitedAt!.seconds) * 1000 >= before - 1000);
    } finally {
      await rm(bundle, { recursive: true, force: true });
    }
  });

  test("bad flags and unknown actions exit 2 with a message; start without -id exits 1", async () => {
    assert.equal((await call(["-bogus", "start"])).code, 2);
    const none = await call([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no action/);
    assert.equal((await call(["-namespace", "ns", "frobnicate"])).code, 2);
    const start = await call(["-namespace", "ns", "start"]);
    assert.equal(start.code, 1);
    assert.match(start.stderr, /-id is required/);
  });

  test("start and delete load no protobuf, grpc-js or Task service: they are on containerd's critical path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodewasi-loads-"));
    const heavy = (urls: string[]) =>
      urls.filter((u) => /\/node_modules\/|\/dist\/src\/(gen|rpc|shim|oci|wasi)\//.test(u));
    const server = createServer();
    try {
      const del = await loading(dir, [BIN, "-namespace", "ns", "-id", "x", "-bundle", dir, "delete"]);
      assert.equal(del.code, 0, del.stderr);
      assert.ok(
        del.loaded.some((u) => u.endsWith("/containerd/shim-delete.js")),
        del.loaded.join("\n"),
      );
      assert.deepEqual(heavy(del.loaded), []);
      // What containerd runs is the bundle (scripts/bundle.mjs), not tsc's files.
      assert.deepEqual(
        del.files.filter((u) => u.includes("/dist/src/")),
        [],
      );

      // start with a shim already listening for this namespace: it answers that address without spawning a
      // daemon (through Node: nothing recorded the listener as a daemon, so the shell front leaves it to Node).
      const sockets = join(dir, "s");
      const path = socketPath("/run/c.sock", "ns", NAMESPACE_GROUP, sockets);
      await mkdir(sockets, { recursive: true });
      await new Promise<void>((r) => server.listen(path, r));
      const start = await loading(
        dir,
        [BIN, "-namespace", "ns", "-id", "x", "-address", "/run/c.sock", "start"],
        {
          NODEWASI_SHIM_SOCKET_DIR: sockets,
        },
      );
      assert.equal(start.code, 0, start.stderr);
      assert.equal(start.stdout, `unix://${path}`);
      assert.ok(
        start.loaded.some((u) => u.endsWith("/containerd/shim-start.js")),
        start.loaded.join("\n"),
      );
      assert.deepEqual(heavy(start.loaded), []);
      assert.deepEqual(
        start.files.filter((u) => u.includes("/dist/src/")),
        [],
      );
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  for (const [build, serve] of [
    ["tsc's", new URL("./shim-serve.js", import.meta.url).href],
    ["the bundle's", bundleOf("dist/src/containerd/shim-serve.js")],
  ]) {
    test(`${build} daemon modules load neither oci/ (the rootfs comes unpacked) nor grpc-js (ttrpc is the default)`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "nodewasi-loads-"));
      try {
        // grpc-js is CommonJS: a require() of it (of node_modules, or of the bundle's grpc-js.cjs) would not pass
        // the ES module hook, so the CommonJS cache is printed too.
        const script = `await import(${JSON.stringify(serve)}); const { createRequire } = await import("node:module"); console.log(Object.keys(createRequire(import.meta.url).cache).join("\\n"));`;
        const r = await loading(dir, ["--input-type=module", "-e", script]);
        assert.equal(r.code, 0, r.stderr);
        const grpc = [...r.loaded, ...requiredModules(r.stdout.split("\n").filter(Boolean))].filter((u) =>
          u.includes("/node_modules/@grpc/grpc-js/"),
        );
        assert.deepEqual(grpc, []);
        assert.ok(
          r.loaded.some((u) => u.endsWith("/shim/task-service.js")),
          r.loaded.join("\n"),
        );
        // Nor oci/ at all (undici, tar-stream, fzstd): it is loaded when the shim pulls an image itself.
        assert.deepEqual(
          r.loaded.filter((u) => /\/dist\/src\/oci\/|\/node_modules\/(undici|tar-stream|fzstd)\//.test(u)),
          [],
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
