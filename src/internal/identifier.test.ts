import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isIdentifier, MAX_IDENTIFIER_LENGTH, validateIdentifier } from "./identifier.js";
import { Code, ShimError } from "./shim-error.js";

describe("validateIdentifier", () => {
  // containerd's own cases (pkg/identifiers/validate_test.go), plus the ids a path could be made of.
  const valid = [
    "default",
    "Default",
    "default-default",
    "containerd.io",
    "foo.boo",
    "swarmkit.docker.io",
    "0912341234",
    "task.0.0123456789",
    "container.system-75-f19a.00",
    "underscores_are_allowed",
    "a".repeat(MAX_IDENTIFIER_LENGTH),
  ];
  const invalid = [
    "",
    ".foo..foo",
    "foo/foo",
    "foo/..",
    "foo..foo",
    "foo.-boo",
    "-foo.boo",
    "foo.boo-",
    "but__only_tasteful_underscores",
    "zn--e9.org",
    "default--default",
    "a".repeat(MAX_IDENTIFIER_LENGTH + 1),
    "..",
    ".",
    "../evil",
    "a/b",
    "/abs",
    "tab\there",
    "nul\0",
    "é",
  ];

  it("accepts what containerd accepts", () => {
    for (const id of valid) {
      assert.ok(isIdentifier(id), id);
      validateIdentifier(id, "task id");
    }
  });

  it("refuses what containerd refuses with InvalidArgument naming the id and the rule", () => {
    for (const id of invalid) {
      assert.equal(isIdentifier(id), false, JSON.stringify(id));
      assert.throws(
        () => validateIdentifier(id, "task id"),
        (err: unknown) => {
          assert.ok(err instanceof ShimError);
          assert.equal(err.code, Code.InvalidArgument);
          assert.match(err.message, /^\[invalid_argument\] task id /);
          assert.match(
            String(err.details.hint),
            /letters and digits, with single \. _ or - between them, 76/,
          );
          return true;
        },
        JSON.stringify(id),
      );
    }
  });

  it("quotes a 10,000-character id only in part, and says how long it is", () => {
    assert.throws(
      () => validateIdentifier("x".repeat(10_000), "--name"),
      (err: ShimError) => {
        assert.match(err.message, /--name "x{24}\.\.\." is 10000 characters long; at most 76 are allowed/);
        assert.ok(err.message.length < 200);
        return true;
      },
    );
  });
});
