import assert from "node:assert/strict";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { Code, ShimError } from "../../internal/index.js";
import { sourceName } from "./open-source.js";

describe("sourceName", () => {
  it("normalises registry references as docker does", () => {
    assert.equal(sourceName("hello"), "docker.io/library/hello:latest");
    assert.equal(sourceName("ghcr.io/a/b"), "ghcr.io/a/b:latest");
    assert.equal(
      sourceName("docker://127.0.0.1:5000/x@sha256:" + "a".repeat(64)),
      `127.0.0.1:5000/x@sha256:${"a".repeat(64)}`,
    );
  });

  it("makes oci: paths absolute and keeps the tag", () => {
    assert.equal(sourceName("oci:some/dir:v1"), `oci:${resolve("some/dir")}:v1`);
    assert.equal(sourceName("oci-archive:x.tar"), `oci-archive:${resolve("x.tar")}`);
  });

  it("refuses what is not a reference", () => {
    assert.throws(
      () => sourceName("Not Valid!"),
      (e: unknown) => e instanceof ShimError && e.code === Code.InvalidArgument,
    );
  });
});
