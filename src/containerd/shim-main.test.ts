import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { DeleteResponseSchema, RuntimeInfoSchema } from "../gen/index.js";
import { RUNTIME_TYPE, shimMain, shimVersion } from "./shim-main.js";

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
});
