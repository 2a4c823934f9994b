import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ShimError } from "../internal/index.js";
import { parseStdio, stdioTargets, stdioUris } from "./stdio.js";

describe("parseStdio", () => {
  it("reads the four forms containerd sends", () => {
    assert.deepEqual(parseStdio(""), { kind: "null" });
    assert.deepEqual(parseStdio("/run/containerd/fifo/1/x-stdout"), {
      kind: "fifo",
      path: "/run/containerd/fifo/1/x-stdout",
    });
    assert.deepEqual(parseStdio("file:///var/log/x.log"), { kind: "file", path: "/var/log/x.log" });
    assert.deepEqual(parseStdio("file:///var/log/with%20space.log"), {
      kind: "file",
      path: "/var/log/with space.log",
    });
    assert.deepEqual(parseStdio("fifo:///tmp/f"), { kind: "fifo", path: "/tmp/f" });
  });

  it("reads a file's cap and rotation from Docker's log options in the query", () => {
    assert.deepEqual(parseStdio("file:///var/log/x.log?max-size=10m&max-file=3"), {
      kind: "file",
      path: "/var/log/x.log",
      rotate: { maxSize: 10 * 1024 ** 2, maxFiles: 3 },
    });
    assert.deepEqual(parseStdio("file:///x.log?max-size=4096"), {
      kind: "file",
      path: "/x.log",
      rotate: { maxSize: 4096, maxFiles: 1 },
    });
    assert.deepEqual(parseStdio("file:///x.log?max-size=-1&max-file=3"), { kind: "file", path: "/x.log" });
    for (const [uri, pattern] of [
      ["file:///x.log?max-size=big", /max-size=big: not a size/],
      ["file:///x.log?max-size=0", /max-size=0: not a size/],
      ["file:///x.log?max-size=1m&max-file=0", /max-file=0: not a whole number/],
      ["file:///x.log?compress=true", /compress: unknown log option; nodewasi takes max-size and max-file/],
    ] as const) {
      assert.throws(
        () => parseStdio(uri),
        (e: unknown) => e instanceof ShimError && e.code === Code.InvalidArgument && pattern.test(e.message),
        uri,
      );
    }
  });

  it("turns binary:// query parameters into arguments in order, as containerd's NewBinaryCmd", () => {
    assert.deepEqual(parseStdio("binary:///usr/bin/logger?id=abc&flag&level=debug"), {
      kind: "binary",
      path: "/usr/bin/logger",
      args: ["id", "abc", "flag", "level", "debug"],
    });
    assert.deepEqual(parseStdio("binary:///usr/bin/logger"), {
      kind: "binary",
      path: "/usr/bin/logger",
      args: [],
    });
  });

  it("refuses relative paths, hosts and unknown schemes with InvalidArgument", () => {
    for (const [uri, pattern] of [
      ["relative/fifo", /must be absolute/],
      ["file://host/x", /absolute path and no host/],
      ["file:///", /absolute path/],
      ["http://example.com/x", /unknown scheme http/],
    ] as const) {
      assert.throws(
        () => parseStdio(uri),
        (e: unknown) => e instanceof ShimError && e.code === Code.InvalidArgument && pattern.test(e.message),
        uri,
      );
    }
  });
});

describe("stdioTargets", () => {
  it("sends stderr to the stdout target when terminal is set", () => {
    const t = stdioTargets({ stdin: "", stdout: "/f/out", stderr: "", terminal: true });
    assert.deepEqual(t.stderr, { kind: "fifo", path: "/f/out" });
    assert.equal(t.stderr, t.stdout, "the same object, so the runner opens the FIFO once");
    const u = stdioTargets({ stdin: "/f/in", stdout: "/f/out", stderr: "/f/err", terminal: false });
    assert.deepEqual(u.stderr, { kind: "fifo", path: "/f/err" });
    assert.deepEqual(u.stdin, { kind: "fifo", path: "/f/in" });
  });
});

describe("stdioUris", () => {
  it("keeps the four stdio fields of a request and nothing else", () => {
    const req = { id: "t", bundle: "/b", stdin: "/f/in", stdout: "/f/out", stderr: "", terminal: true };
    assert.deepEqual(stdioUris(req), { stdin: "/f/in", stdout: "/f/out", stderr: "", terminal: true });
  });
});
