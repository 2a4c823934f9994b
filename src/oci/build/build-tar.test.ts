import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { readTar } from "../../../test/harness/read-tar.js";
import { ShimError } from "../../internal/index.js";
import { buildTar } from "./build-tar.js";

describe("buildTar", () => {
  it("writes files, dirs, links and devices as tar-stream reads them, with zero mtime and owner", async () => {
    const tar = buildTar([
      { path: "dir/", type: "dir" },
      { path: "dir/x", data: Buffer.from("hi\n"), mode: 0o4755 },
      { path: "ln", type: "symlink", linkname: "../../etc/passwd" },
      { path: "hl", type: "link", linkname: "dir/x" },
      { path: "dev", type: "char", devmajor: 1, devminor: 3 },
      { path: "/abs", data: Buffer.from("a") },
      { path: "../up", data: Buffer.from("b") },
    ]);
    assert.equal(tar.length % 512, 0);
    const got = await readTar(tar);
    assert.deepEqual(
      got.map((e) => [
        e.header.name,
        e.header.type,
        e.header.linkname ?? null,
        e.header.mode,
        e.data.toString(),
      ]),
      [
        ["dir/", "directory", null, 0o755, ""],
        ["dir/x", "file", null, 0o4755, "hi\n"],
        ["ln", "symlink", "../../etc/passwd", 0o777, ""],
        ["hl", "link", "dir/x", 0o644, ""],
        ["dev", "character-device", null, 0o644, ""],
        ["/abs", "file", null, 0o644, "a"],
        ["../up", "file", null, 0o644, "b"],
      ],
    );
    assert.equal(got[4]?.header.devmajor, 1);
    assert.equal(got[4]?.header.devminor, 3);
    for (const e of got) {
      assert.equal(e.header.mtime?.getTime(), 0);
      assert.equal(e.header.uid, 0);
      assert.equal(e.header.gid, 0);
    }
  });

  it("keeps long and non-ASCII names and link targets whole (ustar prefix or PAX)", async () => {
    const names = [`${"a/".repeat(80)}file.txt`, "é".repeat(120), `${"d".repeat(150)}/${"f".repeat(99)}`];
    const target = "b/".repeat(70);
    const got = await readTar(
      buildTar([
        ...names.map((path) => ({ path, data: Buffer.from(path) })),
        { path: "s", type: "symlink", linkname: target },
      ]),
    );
    assert.deepEqual(
      got.map((e) => e.header.name),
      [...names, "s"],
    );
    assert.deepEqual(
      got.slice(0, 3).map((e) => e.data.toString()),
      names,
    );
    assert.equal(got[3]?.header.linkname, target);
  });

  it("is read by GNU tar", (t) => {
    if (spawnSync("tar", ["--version"]).status !== 0) return t.skip("tar is not installed");
    const dir = mkdtempSync(join(tmpdir(), "nodewasi-tar-"));
    try {
      const file = join(dir, "t.tar");
      writeFileSync(
        file,
        buildTar([{ path: "m.wasm", data: Buffer.from("x"), mode: 0o755 }, { path: `${"p/".repeat(90)}q` }]),
      );
      const r = spawnSync("tar", ["-tvf", file], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^-rwxr-xr-x 0\/0 +1 1970-01-01 00:00 m\.wasm$/m);
      assert.match(r.stdout, /(p\/){90}q$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("round-trips arbitrary names and contents through tar-stream (property)", async () => {
    const segment = fc.stringMatching(/^[^/\0]{1,40}$/);
    const entry = fc.record({
      path: fc.array(segment, { minLength: 1, maxLength: 8 }).map((s) => s.join("/")),
      data: fc.uint8Array({ maxLength: 1100 }),
      mode: fc.integer({ min: 0, max: 0o7777 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 5 }), async (entries) => {
        const got = await readTar(buildTar(entries));
        assert.deepEqual(
          got.map((e) => [e.header.name, e.header.mode, [...e.data]]),
          entries.map((e) => [e.path, e.mode, [...e.data]]),
        );
      }),
      { numRuns: 150 },
    );
  });

  it("is deterministic", () => {
    const entries = [
      { path: "a", data: Buffer.from("1") },
      { path: "b/", type: "dir" as const },
    ];
    assert.deepEqual(buildTar(entries), buildTar(entries));
  });

  it("refuses a value that does not fit a header field with InvalidArgument", () => {
    assert.throws(
      () => buildTar([{ path: "dev", type: "block", devmajor: 0o10000000 }]),
      (e: unknown) => e instanceof ShimError && /does not fit/.test(e.message),
    );
  });
});
