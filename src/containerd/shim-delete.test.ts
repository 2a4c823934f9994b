import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { DeleteResponseSchema } from "../gen/index.js";
import { encodeDeleteResponse } from "./shim-delete.js";

describe("encodeDeleteResponse", () => {
  test("gives the same bytes as the generated DeleteResponse, zero values and all", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 0xffffffff }),
        fc.integer({ min: 0, max: 253402300799999 }), // up to 9999-12-31, in ms
        (pid, exitStatus, ms) => {
          const exitedAt = new Date(ms);
          const want = toBinary(
            DeleteResponseSchema,
            create(DeleteResponseSchema, { pid, exitStatus, exitedAt: timestampFromDate(exitedAt) }),
          );
          assert.deepEqual(encodeDeleteResponse({ pid, exitStatus, exitedAt }), want);
        },
      ),
      {
        examples: [
          [0, 137, 0],
          [0, 0, 1_700_000_000_123],
          [1, 137, 999],
        ],
      },
    );
  });
});
