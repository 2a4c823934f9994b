import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PullPolicy as PullPolicyMsg, PullProgressSchema, PullRequestSchema } from "../gen/index.js";
import type { Digest } from "../internal/index.js";
import type { PullEvent, PullPolicy, PullResult } from "../oci/index.js";
import { progressMsg, pullEventOf, pullPolicyMsg, pullPolicyOf, pullResultMsg } from "./pull-codec.js";

const digest = (c: string) => `sha256:${c.repeat(64)}` as Digest;

/** One event of each type, every optional field set that the messages carry. */
const EVENTS: PullEvent[] = [
  { type: "resolved", name: "127.0.0.1:5000/hello:v1", digest: digest("a"), mediaType: "application/x" },
  {
    type: "selected",
    platform: { os: "wasip1", architecture: "wasm", variant: "v1", "os.version": "1", "os.features": ["f"] },
    format: "image",
    manifest: {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: digest("b"),
      size: 512,
      annotations: { "org.example": "yes" },
      platform: { os: "wasip1", architecture: "wasm" },
      artifactType: "application/wasm",
    },
    layers: [
      { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: digest("c"), size: 2 ** 40 },
      { mediaType: "application/wasm", digest: digest("d"), size: 0 },
    ],
  },
  { type: "blob-start", digest: digest("c"), size: 2 ** 40, offset: 4096, mediaType: "application/x" },
  { type: "blob-progress", digest: digest("c"), size: 2 ** 40, done: 2 ** 33 + 1 },
  { type: "blob-done", digest: digest("c"), size: 2 ** 40, cached: true },
  { type: "blob-retry", digest: digest("c"), offset: 99, attempt: 2, delayMs: 1500, reason: "ECONNRESET" },
  { type: "extracted", module: digest("e"), size: 14_000, cached: false },
  { type: "waiting", what: "the download of sha256:cc...", holder: "pid 7 since then", waitedMs: 5000 },
  { type: "repaired", path: "/root/blobs/sha256/cc", problem: "its bytes hash to x", action: "removed" },
];

/** An event through its message and the wire, as the CLI receives it. */
const overTheWire = (e: PullEvent) =>
  pullEventOf(
    fromBinary(PullProgressSchema, toBinary(PullProgressSchema, create(PullProgressSchema, progressMsg(e)))),
  );

describe("pull codec", () => {
  it("covers every event type", () => {
    const types = new Set(EVENTS.map((e) => e.type));
    // A new PullEvent type must be added above: this list is checked against the union by the compiler.
    const all: Record<PullEvent["type"], true> = {
      resolved: true,
      selected: true,
      "blob-start": true,
      "blob-progress": true,
      "blob-done": true,
      "blob-retry": true,
      extracted: true,
      waiting: true,
      repaired: true,
    };
    assert.deepEqual([...types].sort(), Object.keys(all).sort());
  });

  for (const e of EVENTS) {
    it(`a ${e.type} event comes back as it was sent`, () => {
      assert.deepEqual(overTheWire(e), e);
    });
  }

  it("a selected event without optional fields comes back without them (empty strings are absent)", () => {
    const bare: PullEvent = {
      type: "selected",
      platform: { os: "wasip1", architecture: "wasm" },
      format: "artifact",
      manifest: { mediaType: "m", digest: digest("f"), size: 1 },
      layers: [],
    };
    assert.deepEqual(overTheWire(bare), bare);
  });

  it("fractional milliseconds travel whole", () => {
    const retry = overTheWire({ ...(EVENTS[5] as PullEvent & { type: "blob-retry" }), delayMs: 1499.6 });
    assert.equal(retry?.type === "blob-retry" && retry.delayMs, 1500);
    const waiting = overTheWire({ ...(EVENTS[7] as PullEvent & { type: "waiting" }), waitedMs: 0.4 });
    assert.equal(waiting?.type === "waiting" && waiting.waitedMs, 0);
  });

  it("the result message is no event", () => {
    const result: PullResult = {
      name: "127.0.0.1:5000/hello:v1",
      digest: digest("a"),
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifest: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digest("b"), size: 512 },
      platform: { os: "wasip1", architecture: "wasm" },
      format: "image",
      formatDescription: "an image",
      module: { digest: digest("e"), size: 2 ** 33, kind: "module", path: "/root/m", source: "/hello.wasm" },
      rootfs: "/root/rootfs/b",
      entrypoint: ["/hello.wasm"],
      env: ["A=1"],
      workingDir: "/",
      bytesFetched: 2 ** 40,
    };
    const msg = fromBinary(
      PullProgressSchema,
      toBinary(
        PullProgressSchema,
        create(PullProgressSchema, { event: { case: "result", value: pullResultMsg(result) } }),
      ),
    );
    assert.equal(pullEventOf(msg), undefined);
    assert.equal(msg.event.case, "result");
    const r = msg.event.value!;
    assert.equal(r.name, result.name);
    assert.equal(r.manifest?.digest, result.manifest.digest);
    assert.equal(r.module?.size, 2n ** 33n);
    assert.equal(r.module?.kind, "module");
    assert.equal(r.rootfs, result.rootfs);
    assert.equal(r.bytesFetched, 2n ** 40n);
  });

  it("a pull policy goes to its enum value and back", () => {
    for (const p of ["always", "missing", "never"] satisfies PullPolicy[]) {
      const request = fromBinary(
        PullRequestSchema,
        toBinary(PullRequestSchema, create(PullRequestSchema, { policy: pullPolicyMsg(p) })),
      );
      assert.equal(pullPolicyOf(request.policy, "always"), p);
    }
    assert.equal(pullPolicyMsg("missing"), PullPolicyMsg.MISSING);
    assert.equal(pullPolicyMsg("always"), PullPolicyMsg.ALWAYS);
    assert.equal(pullPolicyMsg("never"), PullPolicyMsg.NEVER);
  });

  it("an unset policy (nodewasi pull) and one this version does not know read as the caller's default", () => {
    const unset = fromBinary(PullRequestSchema, toBinary(PullRequestSchema, create(PullRequestSchema, {})));
    assert.equal(unset.policy, undefined);
    assert.equal(pullPolicyOf(unset.policy, "always"), "always");
    assert.equal(pullPolicyOf(7 as PullPolicyMsg, "missing"), "missing");
  });
});
