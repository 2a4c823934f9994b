/**
 * Hostile names (issue 6 item 3): image references, `oci:` source specs and `--platform` values as a user, a
 * script or an annotation may give them. Parsing gives a value that prints back to itself, or InvalidArgument;
 * the grammar's regular expressions take time linear in the input (no catastrophic backtracking).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { assertShimError, checkProperty } from "../../../test/harness/property.js";
import { Code } from "../../internal/index.js";
import { formatPlatform, parsePlatform } from "./platform.js";
import { formatReference, formatSourceSpec, parseReference, parseSourceSpec } from "./reference.js";

/** Text from the pieces the grammar branches on. */
const piece = fc.constantFrom(
  "a",
  "Z",
  "0",
  "-",
  "--",
  ".",
  "_",
  "__",
  "/",
  ":",
  "@",
  "sha256:",
  "[",
  "]",
  "::1",
  "localhost",
  "oci:",
  "oci-archive:",
  "docker://",
  "é",
  " ",
  "\0",
);
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.array(piece, { maxLength: 20 }).map((p) => p.join("")),
);

function parsesOrRefuses<T>(fn: () => T, what: string): T | undefined {
  try {
    return fn();
  } catch (err) {
    assertShimError(err, [Code.InvalidArgument], what);
    return undefined;
  }
}

describe("hostile names (property)", () => {
  it("a reference parses to one that prints back to itself, or is InvalidArgument", async () => {
    await checkProperty(
      fc.property(text, (s) => {
        const ref = parsesOrRefuses(() => parseReference(s), `parseReference(${JSON.stringify(s)})`);
        if (ref) assert.equal(formatReference(parseReference(formatReference(ref))), formatReference(ref));
      }),
      3000,
    );
  });

  it("a source spec and a platform parse and print back, or are InvalidArgument", async () => {
    await checkProperty(
      fc.property(text, (s) => {
        const spec = parsesOrRefuses(() => parseSourceSpec(s), `parseSourceSpec(${JSON.stringify(s)})`);
        if (spec) assert.deepEqual(parseSourceSpec(formatSourceSpec(spec)), spec);
        const p = parsesOrRefuses(() => parsePlatform(s), `parsePlatform(${JSON.stringify(s)})`);
        if (p) assert.deepEqual(parsePlatform(formatPlatform(p)), p);
      }),
      3000,
    );
  });

  it("parses 50 KB of any repeated piece within a second (no catastrophic backtracking)", () => {
    const pieces = [
      "a-",
      "a.",
      "a__",
      "a/",
      "A.",
      "A-",
      "a-a-",
      "1:",
      "[::",
      "a@",
      "a:",
      "@sha256:a",
      "ab" + "-".repeat(9),
    ];
    for (const p of pieces) {
      for (const tail of ["", "!", "/", ":x@", "A"]) {
        const s = p.repeat(Math.ceil(50_000 / p.length)) + tail;
        const started = Date.now();
        parsesOrRefuses(() => parseReference(s), p);
        parsesOrRefuses(() => parseReference(`localhost:5000/${s}`), p);
        parsesOrRefuses(() => parseReference(`x/${s}`), p);
        const ms = Date.now() - started;
        assert.ok(
          ms < 1000,
          `${JSON.stringify(p)} x ${s.length / p.length} + ${JSON.stringify(tail)}: ${ms} ms`,
        );
      }
    }
  });
});
