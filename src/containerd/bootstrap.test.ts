import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, type ShimError } from "../internal/index.js";
import {
  BOOTSTRAP_ENV,
  bootstrapMode,
  bootstrapRecord,
  forgetBootstrap,
  recordBootstrap,
  recordedReply,
  startReply,
  transportOf,
} from "./bootstrap.js";

const SOCK = "/run/containerd/s/0123abcd";

describe("the start reply (reference containerd-shim-protocol.md §1.3, §3)", () => {
  test("by default: the plain unix:// address, served over ttrpc (1.6 to 2.3)", () => {
    assert.equal(bootstrapMode({}), "address");
    assert.equal(bootstrapMode({ [BOOTSTRAP_ENV]: "" }), "address");
    assert.equal(bootstrapMode({ [BOOTSTRAP_ENV]: "address" }), "address");
    assert.equal(startReply("address", SOCK), `unix://${SOCK}`);
    assert.equal(transportOf("address"), "ttrpc");
  });

  test("grpc-v2 (1.7) and grpc-v3 (2.x): JSON with a bare socket path, served over gRPC", () => {
    const env = { MAX_SHIM_VERSION: "2" };
    assert.equal(bootstrapMode({ ...env, [BOOTSTRAP_ENV]: "grpc-v2" }), "grpc-v2");
    assert.equal(bootstrapMode({ ...env, [BOOTSTRAP_ENV]: " grpc-v3 " }), "grpc-v3");
    // The exact text: containerd 1.7 and 2.x unmarshal it into BootstrapParams{version, address, protocol}.
    assert.equal(startReply("grpc-v2", SOCK), `{"version":2,"address":"${SOCK}","protocol":"grpc"}`);
    assert.equal(startReply("grpc-v3", SOCK), `{"version":3,"address":"${SOCK}","protocol":"grpc"}`);
    assert.equal(transportOf("grpc-v2"), "grpc");
    assert.equal(transportOf("grpc-v3"), "grpc");
  });

  test("an unknown value is InvalidArgument, naming the choices", () => {
    assert.throws(
      () => bootstrapMode({ MAX_SHIM_VERSION: "2", [BOOTSTRAP_ENV]: "grpc" }),
      (err: ShimError) =>
        err.code === Code.InvalidArgument &&
        /grpc-v2 for containerd 1\.7, grpc-v3 for 2\.x/.test(err.message),
    );
  });

  test("JSON under a containerd without MAX_SHIM_VERSION (1.6) is refused: 1.6 would dial it as a socket name", () => {
    for (const mode of ["grpc-v2", "grpc-v3"]) {
      assert.throws(
        () => bootstrapMode({ [BOOTSTRAP_ENV]: mode }),
        (err: ShimError) =>
          err.code === Code.FailedPrecondition && err.message.includes(`unset ${BOOTSTRAP_ENV}`),
      );
    }
  });
});

describe("the reply recorded beside a daemon's socket", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-bootstrap-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("is what a later start of the group prints, whatever its own environment", async () => {
    const sock = join(dir, "a");
    await recordBootstrap(sock, "grpc-v3");
    assert.equal((await stat(bootstrapRecord(sock))).mode & 0o777, 0o600);
    assert.equal(await recordedReply(sock), startReply("grpc-v3", sock));
    await forgetBootstrap(sock);
    await assert.rejects(stat(bootstrapRecord(sock)));
  });

  test("is waited for while a racing daemon writes it, then taken as a plain address", async () => {
    const sock = join(dir, "b");
    setTimeout(() => void writeFile(bootstrapRecord(sock), startReply("grpc-v2", sock)), 100);
    assert.equal(await recordedReply(sock, 5000), startReply("grpc-v2", sock));
    assert.equal(await recordedReply(join(dir, "none"), 50), `unix://${join(dir, "none")}`);
  });
});
