import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Code, ShimError } from "../internal/index.js";
import { parseShimFlags } from "./shim-flags.js";
import { groupingId, NAMESPACE_GROUP, socketAddress, socketPath } from "./socket-address.js";

describe("parseShimFlags", () => {
  test("containerd 1.6's start and delete command lines", () => {
    const start = parseShimFlags([
      "-namespace",
      "default",
      "-address",
      "/run/containerd/containerd.sock",
      "-publish-binary",
      "/usr/bin/containerd",
      "-id",
      "t1",
      "-debug",
      "start",
    ]);
    assert.equal(start.namespace, "default");
    assert.equal(start.address, "/run/containerd/containerd.sock");
    assert.equal(start.publishBinary, "/usr/bin/containerd");
    assert.equal(start.id, "t1");
    assert.equal(start.debug, true);
    assert.equal(start.action, "start");
    const del = parseShimFlags(["-namespace=ns", "--id=x", "-bundle", "/b", "delete", "extra"]);
    assert.deepEqual(
      [del.namespace, del.id, del.bundle, del.action, del.rest],
      ["ns", "x", "/b", "delete", ["extra"]],
    );
    assert.equal(del.debug, false);
  });

  test("-v, -version, -info and boolean values; errors as Go's flag package words them", () => {
    assert.equal(parseShimFlags(["-v"]).version, true);
    assert.equal(parseShimFlags(["-version"]).version, true);
    assert.equal(parseShimFlags(["-info"]).info, true);
    assert.equal(parseShimFlags(["-debug=false", "start"]).debug, false);
    for (const [argv, msg] of [
      [["-nope", "start"], /not defined: -nope/],
      [["-id"], /needs an argument: -id/],
      [["-debug=maybe"], /invalid boolean/],
    ] as const) {
      assert.throws(
        () => parseShimFlags(argv),
        (err: unknown) => {
          assert.ok(err instanceof ShimError);
          assert.equal(err.code, Code.InvalidArgument);
          assert.match(err.message, msg);
          return true;
        },
      );
    }
  });
});

describe("socket address", () => {
  test("sha256 of filepath.Join(address, namespace, group) under /run/containerd/s", () => {
    // echo -n /run/containerd/containerd.sock/default/myid | sha256sum
    const path = socketPath("/run/containerd/containerd.sock", "default", "myid", "/run/containerd/s");
    assert.equal(path, "/run/containerd/s/90470fb4a4c8bd0fa1a7d9f7cf568253d5bb6c18e58910a02650cf2a1f8d6ce1");
    assert.equal(socketPath("/a.sock/", "ns", "id", "/s"), socketPath("/a.sock", "ns", "id", "/s"));
    assert.equal(socketAddress("/s/x"), "unix:///s/x");
  });

  test("grouping by io.containerd.runc.v2.group, then io.kubernetes.cri.sandbox-id, else the namespace", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodewasi-group-"));
    try {
      assert.equal(await groupingId(dir), NAMESPACE_GROUP);
      await writeFile(join(dir, "config.json"), JSON.stringify({ annotations: { "other.key": "x" } }));
      assert.equal(await groupingId(dir), NAMESPACE_GROUP);
      await writeFile(
        join(dir, "config.json"),
        JSON.stringify({ annotations: { "io.kubernetes.cri.sandbox-id": "pod" } }),
      );
      assert.equal(await groupingId(dir), "pod");
      await writeFile(
        join(dir, "config.json"),
        JSON.stringify({
          annotations: { "io.kubernetes.cri.sandbox-id": "pod", "io.containerd.runc.v2.group": "g" },
        }),
      );
      assert.equal(await groupingId(dir), "g");
      await writeFile(join(dir, "config.json"), "not json");
      assert.equal(await groupingId(dir), NAMESPACE_GROUP);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
