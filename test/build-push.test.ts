/**
 * `nodewasi build --push` as users run it (the real bin/nodewasi) against Debian's docker-registry, judged by
 * skopeo: built and pushed in one command, from the store or from the `--output` layout, with the build's
 * digest; a registry that refuses ends the command as `nodewasi push` would (exit code and hint); usage errors.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sha256 } from "../src/internal/index.js";
import { type CliWork, cli, makeWork, REPO } from "./harness/index.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";

const skip = registrySkipReason() ?? toolSkipReason("skopeo");
const HELLO_WASM = join(REPO, "examples", "hello", "hello.wasm");

/** The manifest bytes the registry serves for `ref`, through skopeo. */
const rawManifest = (ref: string) =>
  execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`], { encoding: "utf8" });

describe("nodewasi build --push", { skip: skip ?? false }, () => {
  let work: CliWork;
  let registry: Registry;
  const build = (...args: string[]) => cli(work, ["build", ...args]);

  before(async () => {
    work = await makeWork([]);
    work.env.DOCKER_CONFIG = join(work.dir, "no-docker-config");
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
    if (work) await rm(work.dir, { recursive: true, force: true });
  });

  it("builds into the store and pushes: the registry serves the build's manifest; --json has both results", async () => {
    const ref = `${registry.host}/bp/hello:v1`;
    const r = await build(HELLO_WASM, "-t", ref, "--push", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "no progress with --json");
    const result = JSON.parse(r.stdout) as {
      ref: string;
      digest: string;
      output: string;
      push: { digest: string; destination: string; blobs: { uploaded: number } };
    };
    assert.equal(result.ref, ref);
    assert.equal(result.output, `store:${work.root}`);
    assert.equal(result.push.digest, result.digest);
    assert.equal(result.push.destination, ref);
    assert.equal(result.push.blobs.uploaded, 2, "config and layer");
    assert.equal(sha256(Buffer.from(rawManifest(ref))), result.digest);
    const images = await cli(work, ["images", "-q"]);
    assert.match(images.stdout, new RegExp(ref.replace(/[.:/]/g, "\\$&")), "the build is in the store too");
  });

  it("with --output pushes what it wrote: progress on stderr, a pushed row in the summary", async () => {
    const ref = `${registry.host}/bp/layout:v2`;
    const layout = join(work.dir, "layout");
    const r = await build(
      HELLO_WASM,
      "-t",
      ref,
      "--format",
      "artifact",
      "--output",
      `oci:${layout}`,
      "--push",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^pushing /m);
    assert.match(r.stderr, /^done 127\.0\.0\.1:\d+\/bp\/layout:v2 in .*, sent /m);
    assert.match(r.stdout, /^output: +oci:.*layout:v2$/m);
    assert.match(
      r.stdout,
      /^pushed: +127\.0\.0\.1:\d+\/bp\/layout:v2: 2 uploaded \(.*\), 0 already there, 0 mounted$/m,
    );
    const digest = /^digest: +(sha256:\w+)$/m.exec(r.stdout)?.[1];
    assert.equal(sha256(Buffer.from(rawManifest(ref))), digest);
    const q = await build(
      HELLO_WASM,
      "-t",
      ref,
      "--format",
      "artifact",
      "--output",
      `oci:${layout}`,
      "--push",
      "-q",
    );
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stdout, `${digest}\n`, "the same build again: same digest, printed alone");
    assert.equal(q.stderr, "");
  });

  it("a registry that refuses: push's exit code and hint, nothing on stdout", async () => {
    const readOnly = await startRegistry({ readOnly: true });
    try {
      const r = await build(HELLO_WASM, "-t", `${readOnly.host}/ro/app:v1`, "--push");
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /POST 127\.0\.0\.1:\d+\/v2\/ro\/app\/blobs\/uploads\/ returned HTTP 405/);
      assert.match(r.stderr, /hint: this registry does not accept pushes/);
      assert.equal(r.stdout, "");
    } finally {
      await readOnly.stop();
    }
    const auth = await startRegistry({ htpasswd: { user: "u", password: "p" } });
    try {
      const r = await build(HELLO_WASM, "-t", `${auth.host}/auth/app:v1`, "--push", "--json");
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /HTTP 401/);
      assert.match(r.stderr, /hint: pushing needs push access to .*docker login 127\.0\.0\.1:\d+/);
      assert.equal(r.stdout, "");
    } finally {
      await auth.stop();
    }
  });

  it("refuses --push without a name and --plain-http without --push, before building", async () => {
    const layout = `oci:${join(work.dir, "unnamed")}:v1`;
    const noName = await build(HELLO_WASM, "--output", layout, "--push");
    assert.equal(noName.code, 2, noName.stderr);
    assert.match(noName.stderr, /^nodewasi: --push sends the image to the registry .*-t REGISTRY\/REPO:TAG/);
    const plain = await build(HELLO_WASM, "-t", "plain:v1", "--plain-http");
    assert.equal(plain.code, 2, plain.stderr);
    assert.match(plain.stderr, /--plain-http goes with --push/);
    const images = await cli(work, ["images", "-q"]);
    assert.doesNotMatch(images.stdout, /plain:v1/, "nothing was built");
  });

  it("--help shows --push with an example", async () => {
    const r = await build("--help");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--push +then push the image/);
    assert.match(r.stdout, /\$ nodewasi build app\.wasm -t 127\.0\.0\.1:5000\/app:v1 --push/);
  });
});
