import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PullPolicy } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import { createOptionsFor, parseEnv, parseMemory, parseMount } from "./run-options.js";
import { parseSignal } from "./signal-name.js";

const invalid = (fn: () => unknown, re: RegExp) =>
  assert.throws(
    fn,
    (e: unknown) => e instanceof ShimError && e.code === Code.InvalidArgument && re.test(e.message),
  );

describe("run options", () => {
  it("parses memory sizes in bytes, k, m and g (powers of 1024)", () => {
    assert.equal(parseMemory("65536"), 65536);
    assert.equal(parseMemory("64k"), 65536);
    assert.equal(parseMemory("64m"), 64 * 1024 ** 2);
    assert.equal(parseMemory("1G"), 1024 ** 3);
    assert.equal(parseMemory("1.5m"), 1.5 * 1024 ** 2);
    assert.equal(parseMemory("2MiB"), 2 * 1024 ** 2);
    invalid(() => parseMemory("lots"), /--memory lots: not a size/);
    invalid(() => parseMemory("1k"), /at least 64k/);
  });

  it("takes KEY=VALUE, and a bare KEY from the environment", () => {
    assert.equal(parseEnv("A=b=c"), "A=b=c");
    assert.equal(parseEnv("A="), "A=");
    assert.equal(parseEnv("HOME_X", { HOME_X: "/h" }), "HOME_X=/h");
    invalid(() => parseEnv("UNSET_X", {}), /UNSET_X is not set here/);
    invalid(() => parseEnv("=v"), /no variable name/);
  });

  it("makes HOST absolute and refuses :ro, which nothing could enforce", () => {
    assert.deepEqual(parseMount("/srv/data:/data"), {
      source: "/srv/data",
      destination: "/data",
      readonly: false,
    });
    assert.equal(parseMount("data:/data:rw").source, `${process.cwd()}/data`);
    invalid(() => parseMount("/a:/b:ro"), /read-only mounts cannot be enforced/);
    invalid(() => parseMount("/a:b"), /must be absolute/);
    invalid(() => parseMount("/a"), /expected HOST:GUEST/);
    invalid(() => parseMount("/a:/b:zz"), /unknown mode zz/);
  });

  it("asks the shim never to pull (the CLI pulled already) and carries every field", () => {
    const o = createOptionsFor({
      image: "oci:/x:latest",
      args: ["a"],
      env: ["K=V"],
      mounts: ["/m:/m"],
      memory: "1m",
      platform: "wasi/wasm",
      plainHttp: true,
    });
    assert.equal(o.pullPolicy, PullPolicy.NEVER);
    assert.equal(o.memoryLimit, 1048576n);
    assert.deepEqual(
      [o.image, o.args, o.env, o.platform, o.plainHttp],
      ["oci:/x:latest", ["a"], ["K=V"], "wasi/wasm", true],
    );
    assert.equal(o.mounts[0]?.destination, "/m");
  });

  it("parses signals by name, with or without SIG, and by number", () => {
    assert.equal(parseSignal("TERM"), 15);
    assert.equal(parseSignal("sigkill"), 9);
    assert.equal(parseSignal("SIGINT"), 2);
    assert.equal(parseSignal("10"), 10);
    invalid(() => parseSignal("0"), /not a signal/);
    invalid(() => parseSignal("NOPE"), /not a signal/);
  });
});
