/**
 * What the image commands load: every `nodewasi` invocation pays for its modules before it does anything, and
 * grpc-js, protobuf's runtime and undici each take about as long to load as Node takes to boot. Commands
 * register cheaply and load what they need inside their actions (main.ts); these tests fail when an import
 * chain pulls a heavy module into a command that has no use for it.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { bundleOf, loading, requiredModules } from "../../test/harness/module-loads.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BIN = join(REPO, "bin", "nodewasi");
const HELLO = `oci:${join(REPO, "examples", "images", "hello")}:latest`;

/** The modules of `urls` that come from grpc-js, protobuf's runtime or undici. */
const heavy = (urls: string[]) =>
  urls.filter((u) => /\/node_modules\/(@grpc\/|@bufbuild\/|undici\/)/.test(u));

describe("nodewasi's start-up", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-cli-loads-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const args of [
    ["--help"],
    ["pull", "--help"],
    ["push", "--help"],
    ["build", "--help"],
    ["ps", "--help"],
  ]) {
    it(`nodewasi ${args.join(" ")} loads no grpc-js, protobuf or undici, nor the image or task code`, async () => {
      const r = await loading(dir, [BIN, ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Usage: nodewasi/);
      assert.ok(
        r.loaded.some((u) => u.endsWith("/dist/src/cli/main.js")),
        r.loaded.join("\n"),
      );
      assert.deepEqual(heavy(r.loaded), []);
      assert.deepEqual(
        r.loaded.filter((u) => /\/dist\/src\/(gen|rpc|shim|oci|wasi)\//.test(u)),
        [],
      );
      // What users run is the bundle (scripts/bundle.mjs), not tsc's files.
      assert.deepEqual(
        r.files.filter((u) => u.includes("/dist/src/")),
        [],
      );
    });
  }

  it("a pull from an OCI layout loads the image code but no grpc-js, protobuf or undici", async () => {
    const r = await loading(dir, [BIN, "--root", join(dir, "root"), "pull", "-q", HELLO]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.ok(
      r.loaded.some((u) => u.endsWith("/dist/src/oci/pull/pull.js")),
      r.loaded.join("\n"),
    );
    assert.deepEqual(heavy(r.loaded), []);
    // A pull in this process has no daemon to call and runs no task: none of the messages, the RPC transports,
    // the shim's services or the task code.
    assert.deepEqual(
      r.loaded.filter((u) => /\/dist\/src\/(gen|rpc|shim|wasi|containerd)\//.test(u)),
      [],
    );
    assert.deepEqual(
      r.files.filter((u) => u.includes("/dist/src/")),
      [],
    );
  });

  it("the shim client requires grpc-js as the bundle's one file, not node_modules' ~70", async () => {
    const client = bundleOf("dist/src/cli/shim-client.js");
    const script =
      `const { shimClients } = await import(${JSON.stringify(client)}); shimClients(${JSON.stringify(join(dir, "none.sock"))}).close();` +
      `const { createRequire } = await import("node:module"); console.log(Object.keys(createRequire(import.meta.url).cache).join("\\n"));`;
    const r = await loading(dir, ["--input-type=module", "-e", script]);
    assert.equal(r.code, 0, r.stderr);
    const required = r.stdout.split("\n").filter(Boolean);
    assert.deepEqual(
      required.filter((p) => p.includes("/node_modules/")),
      [],
    );
    assert.ok(
      requiredModules(required).some((u) => u.endsWith("/node_modules/@grpc/grpc-js/build/src/index.js")),
      required.join("\n"),
    );
  });

  it("a pull of an image the store has unpacks nothing, so loads no tar reader", async () => {
    const root = join(dir, "stored");
    const first = await loading(dir, [BIN, "--root", root, "pull", "-q", HELLO]);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(
      first.loaded.some((u) => u.includes("/node_modules/tar-stream/")),
      "the first pull unpacks the layer",
    );
    const r = await loading(dir, [BIN, "--root", root, "pull", "-q", HELLO]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, first.stdout);
    assert.deepEqual(
      r.loaded.filter((u) => /\/node_modules\/(tar-stream|streamx)\//.test(u)),
      [],
    );
  });
});
