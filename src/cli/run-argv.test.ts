import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createProgram } from "./main.js";
import { separateGuestArgs } from "./run-argv.js";

const sep = (...args: string[]) =>
  separateGuestArgs(["node", "nodewasi", ...args], createProgram({ exitCode: 0 })).slice(2);

describe("separateGuestArgs", () => {
  it("puts -- after REF, so what follows is the guest's", () => {
    assert.deepEqual(sep("run", "REF", "-x", "--rm"), ["run", "REF", "--", "-x", "--rm"]);
    assert.deepEqual(sep("run", "--rm", "-e", "A=1", "--name", "n", "REF", "a"), [
      "run",
      "--rm",
      "-e",
      "A=1",
      "--name",
      "n",
      "REF",
      "--",
      "a",
    ]);
  });

  it("skips global options and their values, before and after run", () => {
    assert.deepEqual(sep("--root", "/r", "--debug", "run", "--address", "/s", "REF", "-h"), [
      "--root",
      "/r",
      "--debug",
      "run",
      "--address",
      "/s",
      "REF",
      "--",
      "-h",
    ]);
    assert.deepEqual(sep("run", "--memory=64m", "-eA=1", "REF", "x"), [
      "run",
      "--memory=64m",
      "-eA=1",
      "REF",
      "--",
      "x",
    ]);
  });

  it("leaves other commands, a REF with no args, and an explicit -- alone", () => {
    assert.deepEqual(sep("pull", "REF", "--json"), ["pull", "REF", "--json"]);
    assert.deepEqual(sep("run", "REF"), ["run", "REF"]);
    assert.deepEqual(sep("run", "REF", "--", "-x"), ["run", "REF", "--", "-x"]);
    assert.deepEqual(sep("run", "--help"), ["run", "--help"]);
  });
});
