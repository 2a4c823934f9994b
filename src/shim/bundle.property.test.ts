/**
 * Hostile runtime specs (issue 6 item 3): whatever containerd, or whoever wrote the bundle, put in
 * config.json or in an Exec's process JSON, setting up the task gives a runnable spec or a `ShimError`
 * (InvalidArgument for a malformed spec, NotFound or FailedPrecondition for a module that is not there or not
 * wasm), never a TypeError, and never a module outside the rootfs.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import {
  anyJson,
  assertShimError,
  checkProperty,
  deepJson,
  mutatedJson,
  settlesWithin,
} from "../../test/harness/property.js";
import { CreateTaskRequestSchema } from "../gen/index.js";
import { Code } from "../internal/index.js";
import { readRuntimeSpec } from "./bundle.js";
import { setupExec, setupFromBundle, type TaskSetup } from "./task-setup.js";

const WASM = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const CODES = [Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition];

let dir: string;
let bundle: string;
let data: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nodewasi-bundle-prop-"));
  bundle = join(dir, "bundle");
  data = join(dir, "data");
  await mkdir(join(bundle, "rootfs", "app"), { recursive: true });
  await mkdir(data);
  await writeFile(join(bundle, "rootfs", "app", "main.wasm"), WASM);
});
after(() => rm(dir, { recursive: true, force: true }));

const goodProcess = { args: ["main.wasm#run", "x"], env: ["PATH=/app", "A=1"], cwd: "/", terminal: false };
const goodSpec = {
  ociVersion: "1.1.0",
  process: goodProcess,
  root: { path: "rootfs", readonly: true },
  mounts: [
    { destination: "/data", source: "", type: "bind", options: ["rbind", "ro"] },
    { destination: "/proc", source: "proc", type: "proc" },
  ],
  linux: { resources: { memory: { limit: 8 * 1024 * 1024 } } },
  annotations: { "io.kubernetes.cri.container-type": "container" },
};

const request = () => create(CreateTaskRequestSchema, { id: "t", bundle, stdout: "/dev/null" });

/** Asserts what a successful setup promises the runner: strings everywhere, the module inside the rootfs. */
function assertRunnable(setup: TaskSetup["spec"], rootfs: string): void {
  assert.ok(setup.args.every((a) => typeof a === "string"));
  assert.ok(Object.values(setup.env).every((v) => typeof v === "string"));
  assert.ok(Object.entries(setup.preopens).every(([k, v]) => typeof k === "string" && typeof v === "string"));
  const rel = relative(rootfs, setup.module);
  assert.ok(!rel.startsWith(".."), `module ${setup.module} is outside the rootfs`);
}

/** Config texts: mutated good specs, wrong types anywhere, deep nesting under a field, noise. */
const configText = fc.oneof(
  mutatedJson({ ...goodSpec, mounts: [{ ...goodSpec.mounts[0], source: "DATA" }, goodSpec.mounts[1]] }).map(
    (v) => JSON.stringify(v) ?? "",
  ),
  anyJson.map((v) => JSON.stringify(v) ?? ""),
  fc.string({ maxLength: 40 }),
  fc
    .tuple(
      fc.constantFrom("process", "root", "mounts", "linux", "annotations"),
      fc.integer({ min: 1, max: 20_000 }),
      fc.constantFrom("array" as const, "object" as const),
    )
    .map(([key, depth, kind]) => `{"${key}":${deepJson(depth, kind)}}`),
);

describe("hostile bundle config.json (property)", () => {
  it("gives a runnable spec or InvalidArgument, NotFound or FailedPrecondition", async () => {
    await checkProperty(
      fc.asyncProperty(configText, async (text) => {
        await writeFile(join(bundle, "config.json"), text.replaceAll('"DATA"', JSON.stringify(data)));
        const { value } = await settlesWithin(
          5000,
          `config.json ${text.slice(0, 200)}`,
          () => setupFromBundle(request(), join(dir, "pause")),
          CODES,
        );
        if (value)
          assertRunnable(value.spec, value.spec.module.startsWith(join(dir, "pause")) ? dir : value.rootfs);
      }),
      300,
    );
  });

  it("regression: fields of the wrong type are InvalidArgument naming the field, not TypeErrors", async () => {
    // Each of these threw a TypeError (x is not iterable, args0.lastIndexOf is not a function...).
    const cases: [unknown, RegExp][] = [
      [[], /the document is not an object/],
      [{ ...goodSpec, mounts: {} }, /mounts is not an array/],
      [{ ...goodSpec, mounts: [null] }, /mounts\[0\] is not an object/],
      [{ ...goodSpec, mounts: [{ type: "bind", source: data }] }, /mounts\[0\]\.destination/],
      [{ ...goodSpec, process: { ...goodProcess, args: [5] } }, /process\.args is not an array of strings/],
      [{ ...goodSpec, process: { ...goodProcess, env: 7 } }, /process\.env/],
      [{ ...goodSpec, process: { ...goodProcess, cwd: 1 } }, /process\.cwd is not a string/],
      [{ ...goodSpec, root: { path: 5 } }, /root\.path is not a string/],
      [{ ...goodSpec, linux: { resources: { memory: { limit: "8M" } } } }, /memory\.limit is not a number/],
      [{ ...goodSpec, annotations: { a: 1 } }, /annotations is not an object of strings/],
    ];
    for (const [spec, message] of cases) {
      await writeFile(join(bundle, "config.json"), JSON.stringify(spec));
      await assert.rejects(setupFromBundle(request()), (err) => {
        assert.match(assertShimError(err, [Code.InvalidArgument], String(message)).message, message);
        return true;
      });
    }
  });

  it("regression: a root.path that does not exist is NotFound, not a bare ENOENT", async () => {
    await writeFile(join(bundle, "config.json"), JSON.stringify({ ...goodSpec, root: { path: " " } }));
    await assert.rejects(setupFromBundle(request()), (err) => {
      assert.match(
        assertShimError(err, [Code.NotFound], "root.path").message,
        /rootfs .*bundle\/ {2}does not exist/,
      );
      return true;
    });
  });

  it("reads a large config.json (5 MiB of env) without trouble", async () => {
    const env = Array.from({ length: 50_000 }, (_, i) => `V${i}=${"x".repeat(90)}`);
    await writeFile(
      join(bundle, "config.json"),
      JSON.stringify({ ...goodSpec, process: { ...goodProcess, env } }),
    );
    assert.equal((await readRuntimeSpec(bundle)).process?.env?.length, 50_000);
  });
});

describe("hostile Exec process JSON (property)", () => {
  it("gives a runnable spec or InvalidArgument, NotFound or FailedPrecondition", async () => {
    await writeFile(join(bundle, "config.json"), JSON.stringify({ process: goodProcess }));
    const container = await setupFromBundle(request());
    const stdio = { stdin: "", stdout: "/dev/null", stderr: "", terminal: false };
    await checkProperty(
      fc.asyncProperty(
        fc.oneof(
          mutatedJson(goodProcess).map((v) => new TextEncoder().encode(JSON.stringify(v) ?? "")),
          anyJson.map((v) => new TextEncoder().encode(JSON.stringify(v) ?? "")),
          fc.uint8Array({ maxLength: 40 }),
        ),
        async (json) => {
          const { value } = await settlesWithin(
            5000,
            "setupExec",
            () => setupExec(container, json, stdio, "exec x1"),
            CODES,
          );
          if (value) assertRunnable(value, container.rootfs);
        },
      ),
      200,
    );
    await assert.rejects(setupExec(container, new TextEncoder().encode("null"), stdio, "exec x2"), (err) => {
      assert.match(assertShimError(err, [Code.InvalidArgument], "null").message, /exec x2: .*not an object/);
      return true;
    });
  });
});
