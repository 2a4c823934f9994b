import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { testComponent } from "../../../test/harness/modules.js";
import { ShimError } from "../../internal/index.js";
import { componentWorld } from "./build-component.js";

describe("componentWorld", () => {
  it("lists the top-level import and export names in order, skipping other sections", () => {
    assert.deepEqual(componentWorld(testComponent()), {
      exports: ["wasi:cli/run@0.2.0"],
      imports: ["wasi:cli/environment@0.2.0", "wasi:io/streams@0.2.0"],
      target: null,
    });
  });

  it("gives empty lists for a component with no sections", () => {
    const preamble = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
    assert.deepEqual(componentWorld(preamble), { exports: [], imports: [], target: null });
  });

  it("skips every extern descriptor shape: func, value, type bounds, component, core module", () => {
    const str = (s: string) => [s.length, ...Buffer.from(s)];
    const body = [
      5,
      ...[0x00, ...str("f"), 0x01, 3],
      ...[0x00, ...str("v"), 0x02, 0x01, 0x73],
      ...[0x00, ...str("t"), 0x03, 0x01],
      ...[0x00, ...str("c"), 0x04, 0x80, 0x01],
      ...[0x00, ...str("m"), 0x00, 0x11, 2],
    ];
    const bytes = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 10, body.length, ...body]);
    assert.deepEqual(componentWorld(bytes).imports, ["f", "v", "t", "c", "m"]);
  });

  it("refuses a truncated section or an unknown descriptor with InvalidArgument", () => {
    const head = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    for (const tail of [
      [10, 9, 1, 0x00, 3, 0x61],
      [10, 5, 1, 0x00, 1, 0x61, 0x09],
      [11, 4, 1, 0x07, 1, 0x61],
    ]) {
      assert.throws(
        () => componentWorld(Buffer.from([...head, ...tail])),
        (e: unknown) => e instanceof ShimError && e.code === 3 && /cannot read the imports/.test(e.message),
        JSON.stringify(tail),
      );
    }
  });
});
