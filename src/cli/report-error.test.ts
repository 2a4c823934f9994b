import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, invalidArgument, ShimError } from "../internal/index.js";
import { asContentError } from "./exit-code.js";
import { reportError } from "./report-error.js";

const capture = (err: unknown, debug = false) => {
  let out = "";
  reportError(err, { debug, write: (s) => (out += s) });
  return out;
};

describe("reportError", () => {
  it("prints the raw message, without the [code] prefix, after the program name", () => {
    const out = capture(new ShimError(Code.NotFound, "hello is not in the store"));
    assert.equal(out, "nodewasi: hello is not in the store\n");
  });

  it("adds a hint for authentication failures", () => {
    const out = capture(new ShimError(Code.Unauthenticated, "ghcr.io/x/y: 401"));
    assert.match(out, /^nodewasi: ghcr\.io\/x\/y: 401\nhint: .*docker login/);
  });

  it("adds no generic hint to a message that already gives advice", () => {
    const out = capture(
      new ShimError(Code.Unavailable, "GET x failed: ECONNREFUSED; check the registry host"),
    );
    assert.equal(out, "nodewasi: GET x failed: ECONNREFUSED; check the registry host\n");
  });

  it("prefers the thrower's hint", () => {
    const out = capture(new ShimError(Code.Unavailable, "down", { details: { hint: "start the registry" } }));
    assert.equal(out, "nodewasi: down\nhint: start the registry\n");
  });

  it("a refused hostile layer says what was refused and why, with no digest hint and no pull-again advice", () => {
    // As `nodewasi pull` reports an unpack refusal: the InvalidArgument of the unpacker, made a content error.
    const refusalOf = (entry: string, why: string) =>
      invalidArgument(
        `layer sha256:ab of x: refusing entry "${entry}": ${why}; the image is malformed or hostile, rebuild it or ask its publisher`,
      );
    for (const refusal of [
      refusalOf("../../etc/passwd", "`..` components are not allowed"),
      refusalOf("dev/sda", "block entries are not allowed in a wasm image layer"),
      invalidArgument(
        "layer sha256:bomb of x: more than 2147483648 bytes after decompression: refused by nodewasi's unpack limits, which stop decompression bombs",
      ),
    ]) {
      const out = capture(asContentError(refusal));
      assert.equal(out, `nodewasi: ${refusal.rawMessage}\n`);
      assert.doesNotMatch(out, /did not match its digest|pull again/);
    }
  });

  it("a digest mismatch in a transfer keeps its hint to pull again", () => {
    const out = capture(
      new ShimError(Code.DataLoss, "content sha256:ab: bytes hash to sha256:cd", { temporary: true }),
    );
    assert.match(out, /^hint: content did not match its digest; pull again/m);
  });

  it("says interrupted for a cancellation", () => {
    assert.equal(capture(new ShimError(Code.Canceled, "pull of x")), "nodewasi: interrupted: pull of x\n");
  });

  it("wraps non-ShimErrors", () => {
    assert.equal(capture(new TypeError("boom")), "nodewasi: boom\n");
  });

  it("prints nothing of the cause chain without --debug", () => {
    const out = capture(new ShimError(Code.Internal, "outer", { cause: new Error("inner cause") }));
    assert.doesNotMatch(out, /inner cause/);
  });

  it("prints code, details, stacks and causes with --debug", () => {
    const inner = new Error("inner cause");
    const out = capture(
      new ShimError(Code.DataLoss, "outer", {
        cause: inner,
        details: { digest: "sha256:ab" },
        temporary: true,
      }),
      true,
    );
    assert.match(out, /^debug: code DataLoss \(15\), temporary$/m);
    assert.match(out, /^debug: details \{"digest":"sha256:ab"\}$/m);
    assert.match(out, /^debug: stack: ShimError: \[data_loss\] outer\n\s+at /m);
    assert.match(out, /^debug: caused by: Error: inner cause\n\s+at /m);
  });

  it("stops on a cause cycle", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    const out = capture(new ShimError(Code.Internal, "x", { cause: a }), true);
    assert.equal(out.match(/caused by/g)?.length, 2);
  });
});
