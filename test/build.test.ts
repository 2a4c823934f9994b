/**
 * `nodewasi build` as users run it (the real bin/nodewasi): every format written to an OCI layout and read
 * back by skopeo, a tool no one here wrote; reproducible digests; images built into the store and run by
 * `nodewasi run` without a network; indexes beside a linux/amd64 image and with attestations; every error a
 * user can hit, with its exit code.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, readFile, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sha256 } from "../src/internal/index.js";
import { buildImage, buildIndex, layoutSource, loadImage, writeLayout } from "../src/oci/index.js";
import { containerdUnavailable, SHIM_RUNTIME, startContainerd } from "./harness/containerd.js";
import { type CliRun, type CliWork, cli, makeWork, REPO, stopShim } from "./harness/index.js";
import { helloModule, notWasm, testComponent } from "./harness/modules.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";

const skip = toolSkipReason("skopeo", "wat2wasm");
const HELLO_WASM = join(REPO, "examples", "hello", "hello.wasm");
const MODULES = join(REPO, "examples", "modules");

/** skopeo's answer as JSON; fails the test with skopeo's stderr when it refuses. */
function skopeo(...args: string[]): Record<string, unknown> {
  const r = spawnSync("skopeo", args, { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Asserts the exit code and that stderr matches, with everything printed when it does not. */
function fails(r: CliRun, code: number, message: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.match(r.stderr, /^nodewasi: /);
  assert.equal(r.stdout, "", "nothing on stdout when a build fails");
}

describe("nodewasi build", { skip: skip ?? false }, () => {
  let work: CliWork;
  const build = (...args: string[]) => cli(work, ["build", ...args]);

  before(async () => {
    work = await makeWork([]);
    await mkdir(work.dir, { recursive: true });
  });
  after(async () => {
    await stopShim(work.address);
    await rm(work.dir, { recursive: true, force: true });
  });

  // What skopeo must see for each format: manifest and config media types, layer types, config platform.
  const expected = {
    image: [
      "application/vnd.oci.image.config.v1+json",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "wasip1",
    ],
    compat: [
      "application/vnd.oci.image.config.v1+json",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "linux",
    ],
    artifact: ["application/vnd.wasm.config.v0+json", "application/wasm", "wasip1"],
    "wasm-to-oci": [
      "application/vnd.wasm.config.v1+json",
      "application/vnd.wasm.content.layer.v1+wasm",
      undefined,
    ],
    runwasi: [
      "application/vnd.oci.image.config.v1+json",
      "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm",
      "wasip1",
    ],
    oras: ["application/vnd.oci.empty.v1+json", "application/vnd.oci.image.layer.v1.tar", undefined],
  } as const;

  for (const [format, [configType, layerType, os]] of Object.entries(expected)) {
    it(`--format ${format} to an OCI layout reads back with skopeo`, async () => {
      const dir = join(work.dir, `layout-${format}`);
      const r = await build(
        HELLO_WASM,
        "-t",
        `hello:${format}`,
        "--format",
        format,
        "--output",
        `oci:${dir}`,
      );
      assert.equal(r.code, 0, r.stderr);
      const raw = skopeo("inspect", "--raw", `oci:${dir}:${format}`);
      const config = raw.config as { mediaType: string; digest: string };
      const layers = raw.layers as { mediaType: string; digest: string; size: number }[];
      assert.equal(
        raw.mediaType,
        format === "wasm-to-oci" ? undefined : "application/vnd.oci.image.manifest.v1+json",
      );
      assert.equal(config.mediaType, configType);
      assert.deepEqual(
        layers.map((l) => l.mediaType),
        [layerType],
      );
      if (!layerType.includes("tar") || format === "oras") {
        assert.equal(layers[0]!.digest, sha256(await readFile(HELLO_WASM)), "the raw layer is the module");
      }
      const cfg = skopeo("inspect", "--config", "--raw", `oci:${dir}:${format}`);
      assert.equal(cfg.os, os);
      if (os) assert.equal(cfg.architecture, format === "compat" ? "amd64" : "wasm");
      if (format === "artifact") {
        assert.deepEqual(cfg.layerDigests, [layers[0]!.digest]);
        assert.equal(cfg.component, null);
      }
      if (format === "image") {
        // skopeo's own reading of an image config, not just the bytes.
        const parsed = skopeo("inspect", "--config", `oci:${dir}:${format}`) as {
          config: { Entrypoint: string[] };
        };
        assert.deepEqual(parsed.config.Entrypoint, ["/hello.wasm"]);
      }
    });
  }

  it("--format docker: Docker schema2 types, as skopeo reads them from a registry; a partly pulled index is refused by --add", {
    skip: registrySkipReason() ?? false,
  }, async () => {
    // skopeo reads only OCI-typed manifests from an OCI layout, so the Docker image is checked in a registry.
    let registry: Registry | undefined;
    try {
      registry = await startRegistry();
      const dir = join(work.dir, "layout-docker");
      const r = await build(
        HELLO_WASM,
        "-t",
        "hello:docker",
        "--format",
        "docker",
        "--output",
        `oci:${dir}`,
        "-q",
      );
      assert.equal(r.code, 0, r.stderr);
      const image = await loadImage(await layoutSource(dir, "docker"));
      assert.equal(image.manifest.digest, r.stdout.trim());
      await pushBuilt(registry.host, "hello:docker", image);
      const ref = `docker://${registry.host}/hello:docker`;
      const raw = skopeo("inspect", "--tls-verify=false", "--raw", ref);
      assert.equal(raw.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
      assert.equal(
        (raw.config as { mediaType: string }).mediaType,
        "application/vnd.docker.container.image.v1+json",
      );
      assert.deepEqual(
        (raw.layers as { mediaType: string }[]).map((l) => l.mediaType),
        ["application/vnd.docker.image.rootfs.diff.tar.gzip"],
      );
      const cfg = skopeo("inspect", "--tls-verify=false", "--config", ref);
      assert.deepEqual([cfg.os, cfg.architecture], ["wasip1", "wasm"]);

      // A pull of an index keeps only the manifest it chose, so that index cannot go into a new one whole.
      const amd64 = buildImage({
        module: notWasm("partial"),
        format: "image",
        platform: { os: "linux", architecture: "amd64" },
      });
      await pushBuilt(registry.host, "partial:v1", buildIndex([{ image: amd64 }, { image }]));
      const pulled = await cli(work, ["pull", `${registry.host}/partial:v1`]);
      assert.equal(pulled.code, 0, pulled.stderr);
      fails(
        await build("--index", "whole:v1", "--add", `${registry.host}/partial:v1`),
        3,
        /only part of .*partial:v1 is in the store/,
      );
    } finally {
      await registry?.stop();
    }
  });

  it("is reproducible: the same inputs give the same digest and archive bytes; --created changes them", async () => {
    const digest = async (...extra: string[]) => {
      const r = await build(HELLO_WASM, "-t", "repro:v1", "-q", "--env", "A=1", ...extra);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const first = await digest("--output", `oci:${join(work.dir, "repro-a")}`);
    assert.match(first, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await digest("--output", `oci:${join(work.dir, "repro-b")}`), first);
    assert.equal(await digest(), first, "the store build has the same digest");
    const later = await digest(
      "--created",
      "2024-05-01T12:00:00Z",
      "--output",
      `oci:${join(work.dir, "repro-c")}`,
    );
    assert.notEqual(later, first);
    const cfg = skopeo("inspect", "--config", "--raw", `oci:${join(work.dir, "repro-c")}:v1`);
    assert.equal(cfg.created, "2024-05-01T12:00:00Z");
    const [a, b] = [join(work.dir, "a.tar"), join(work.dir, "b.tar")];
    for (const f of [a, b]) assert.equal(await digest("--output", `oci-archive:${f}`), first);
    assert.deepEqual(await readFile(a), await readFile(b));
    assert.equal((skopeo("inspect", `oci-archive:${a}:v1`) as { Digest: string }).Digest, first);
  });

  it("builds into the store: images lists it, run runs it without a network", async () => {
    const r = await build(HELLO_WASM, "-t", "hello:v1", "--json");
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(result.ref, "docker.io/library/hello:v1");
    assert.equal(result.format, "image");
    assert.equal(result.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.deepEqual(result.platform, { architecture: "wasm", os: "wasip1" });
    assert.equal(result.output, `store:${work.root}`);
    const images = await cli(work, ["images", "--json"]);
    const listed = (JSON.parse(images.stdout) as { name: string; digest: string }[]).find(
      (i) => i.name === "docker.io/library/hello:v1",
    );
    assert.equal(listed?.digest, result.digest);
    const run = await cli(work, ["run", "--rm", "--pull", "never", "hello:v1"]);
    assert.equal(run.stdout, "Hello from nodewasi!\n", run.stderr);
    assert.equal(run.code, 0);
  });

  it("every format built into the store runs from there", async () => {
    for (const format of ["image", "docker", "compat", "artifact", "wasm-to-oci", "runwasi", "oras"]) {
      const r = await build(HELLO_WASM, "-t", `every:${format}`, "--format", format, "-q");
      assert.equal(r.code, 0, `${format}: ${r.stderr}`);
      const run = await cli(work, ["run", "--rm", "--pull", "never", `every:${format}`]);
      assert.equal(run.stdout, "Hello from nodewasi!\n", `${format}: ${run.stderr}`);
    }
  });

  it("--entrypoint, --env and --workdir reach the guest as argv[0] and environment, and the config's WorkingDir", async () => {
    const args = await build(
      join(MODULES, "echo-args.wasm"),
      "-t",
      "args:v1",
      "--entrypoint",
      "/bin/echo.wasm",
    );
    assert.equal(args.code, 0, args.stderr);
    const a = await cli(work, ["run", "--rm", "args:v1", "x"]);
    assert.equal(a.stdout, "/bin/echo.wasm\nx\n", a.stderr);
    for (const format of ["image", "runwasi"]) {
      const env = await build(
        join(MODULES, "print-env.wasm"),
        "-t",
        `env:${format}`,
        "--format",
        format,
        "--env",
        "GREETING=hi there",
        "--env",
        "EMPTY=",
        "--workdir",
        "/app",
      );
      assert.equal(env.code, 0, env.stderr);
      const e = await cli(work, ["run", "--rm", `env:${format}`]);
      // Exactly the image's environment: WASI has no working directory and nodewasi adds no PWD for it.
      assert.deepEqual(
        e.stdout.trim().split("\n").sort(),
        ["EMPTY=", "GREETING=hi there"],
        `${format}: ${e.stderr}`,
      );
    }
    const out = join(work.dir, "workdir-layout");
    const wd = await build(
      join(MODULES, "print-env.wasm"),
      "-t",
      "wd:v1",
      "--workdir",
      "/app",
      "--output",
      `oci:${out}`,
    );
    assert.equal(wd.code, 0, wd.stderr);
    const cfg = skopeo("inspect", "--config", "--raw", `oci:${out}:v1`) as {
      config?: { WorkingDir?: string };
    };
    assert.equal(cfg.config?.WorkingDir, "/app");
  });

  it("--file copies host files and directories into the image's tar layer", async () => {
    const host = join(work.dir, "host-files");
    await mkdir(join(host, "tree", "sub"), { recursive: true });
    await writeFile(join(host, "one.txt"), "one file\n");
    await writeFile(join(host, "tree", "sub", "deep.txt"), "deep in a tree\n");
    const r = await build(
      join(MODULES, "read-file.wasm"),
      "-t",
      "files:v1",
      "--file",
      `${join(host, "one.txt")}:/etc/one.txt`,
      "--file",
      `${join(host, "tree")}:/data`,
    );
    assert.equal(r.code, 0, r.stderr);
    const one = await cli(work, ["run", "--rm", "files:v1", "/etc/one.txt"]);
    assert.equal(one.stdout, "one file\n", one.stderr);
    const deep = await cli(work, ["run", "--rm", "files:v1", "/data/sub/deep.txt"]);
    assert.equal(deep.stdout, "deep in a tree\n", deep.stderr);
  });

  it("--annotation lands in the manifest, and compat gets its variant annotation", async () => {
    const dir = join(work.dir, "layout-annotated");
    const r = await build(
      HELLO_WASM,
      "-t",
      "ann:v1",
      "--format",
      "compat",
      "--annotation",
      "org.opencontainers.image.version=1.2",
      "--output",
      `oci:${dir}`,
    );
    assert.equal(r.code, 0, r.stderr);
    const raw = skopeo("inspect", "--raw", `oci:${dir}:v1`);
    assert.deepEqual(raw.annotations, {
      "module.wasm.image/variant": "compat",
      "org.opencontainers.image.version": "1.2",
    });
  });

  it("--index puts a linux/amd64 image beside the wasm one, with attestations; pull and run pick the wasm entry", async () => {
    // A real non-wasm image in a layout (built by the library: the CLI packages only wasm).
    const amd64Dir = join(work.dir, "layout-amd64");
    await writeLayout(amd64Dir, [
      {
        image: buildImage({
          module: notWasm("amd64"),
          format: "image",
          platform: { os: "linux", architecture: "amd64" },
          entrypoint: "/app",
        }),
        tag: "amd64",
      },
    ]);
    const wasm = join(work.dir, "index-entry.wasm");
    await writeFile(wasm, helloModule("the wasm entry of the index"));
    assert.equal((await build(wasm, "-t", "multi:wasm")).code, 0);
    const out = join(work.dir, "layout-index");
    const r = await build(
      "--index",
      "multi:v1",
      "--add",
      `oci:${amd64Dir}:amd64,multi:wasm`,
      "--attest",
      "--output",
      `oci:${out}`,
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    const raw = skopeo("inspect", "--raw", `oci:${out}:v1`) as {
      mediaType: string;
      manifests: { platform: { os: string; architecture: string }; annotations?: Record<string, string> }[];
    };
    assert.equal(raw.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(
      raw.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
      ["linux/amd64", "wasip1/wasm", "unknown/unknown", "unknown/unknown"],
    );
    assert.equal(raw.manifests[3]!.annotations?.["vnd.docker.reference.type"], "attestation-manifest");
    assert.equal(
      JSON.parse(r.stdout).digest,
      sha256(await readFile(join(out, "blobs", "sha256", JSON.parse(r.stdout).digest.slice(7)))),
    );
    // skopeo picks an entry by platform too.
    const wasmCfg = skopeo(
      "inspect",
      "--override-os",
      "wasip1",
      "--override-arch",
      "wasm",
      "--config",
      `oci:${out}:v1`,
    );
    assert.equal(wasmCfg.os, "wasip1");
    const run = await cli(work, ["run", "--rm", `oci:${out}:v1`]);
    assert.equal(run.stdout, "the wasm entry of the index\n", run.stderr);
    // The same index in the store, under its name.
    assert.equal(
      (await build("--index", "multi:v2", "--add", `oci:${amd64Dir}:amd64`, "--add", "multi:wasm")).code,
      0,
    );
    const stored = await cli(work, ["run", "--rm", "--pull", "never", "multi:v2"]);
    assert.equal(stored.stdout, "the wasm entry of the index\n", stored.stderr);
  });

  it("a component gets the artifact component field and os wasip2; it is not stored, since run refuses it", async () => {
    const file = join(work.dir, "component.wasm");
    await writeFile(file, testComponent());
    const dir = join(work.dir, "layout-component");
    const r = await build(file, "-t", "comp:v1", "--format", "artifact", "--output", `oci:${dir}`);
    assert.equal(r.code, 0, r.stderr);
    const cfg = skopeo("inspect", "--config", "--raw", `oci:${dir}:v1`);
    assert.equal(cfg.os, "wasip2");
    assert.deepEqual(cfg.component, {
      exports: ["wasi:cli/run@0.2.0"],
      imports: ["wasi:cli/environment@0.2.0", "wasi:io/streams@0.2.0"],
      target: null,
    });
    fails(await build(file, "-t", "comp:v1"), 1, /is a WebAssembly component.*--output/);
  });

  it("a FIFO, a device or a file over V8's 1 GiB as the module: refused before reading it, exit 2", {
    timeout: 60_000,
  }, async () => {
    // Before: the FIFO blocked the build forever, /dev/zero was read until 2 GiB were in memory.
    const fifo = join(work.dir, "fifo.wasm");
    spawnSync("mkfifo", [fifo]);
    const huge = join(work.dir, "huge.wasm");
    await writeFile(huge, "");
    await truncate(huge, 1024 ** 3 + 1);
    const t = ["-t", "bad:v1"];
    fails(
      await build(fifo, ...t),
      2,
      /module .*fifo\.wasm is not a regular file \(a device, FIFO or socket\)/,
    );
    fails(await build("/dev/zero", ...t), 2, /module \/dev\/zero is not a regular file/);
    fails(await build(huge, ...t), 2, /huge\.wasm is 1\.0 GiB, over the 1 GiB that V8 compiles/);
    await rm(huge);
  });

  it("refuses bad input with a clear message and the right exit code, before building anything", async () => {
    const notWasmFile = join(work.dir, "not.wasm");
    await writeFile(notWasmFile, "#!/bin/sh\necho not wasm\n");
    const truncated = join(work.dir, "truncated.wasm");
    await writeFile(truncated, (await readFile(HELLO_WASM)).subarray(0, 40));
    const withLink = join(work.dir, "with-link");
    await mkdir(withLink, { recursive: true });
    await symlink("/etc/passwd", join(withLink, "passwd"));
    const t = ["-t", "bad:v1"];
    fails(await build(join(work.dir, "missing.wasm"), ...t), 3, /module .*missing\.wasm does not exist/);
    fails(await build(notWasmFile, ...t), 2, /not\.wasm: not a wasm binary: starts with 0x2321/);
    fails(await build(truncated, ...t), 2, /invalid .*truncated\.wasm: section/);
    fails(await build(work.dir, ...t), 2, /is a directory/);
    fails(await build(HELLO_WASM, ...t, "--platform", "wasi"), 2, /invalid platform "wasi"/);
    fails(await build(HELLO_WASM, ...t, "--env", "NOEQUALS"), 2, /--env "NOEQUALS": want KEY=VALUE/);
    fails(await build(HELLO_WASM, ...t, "--annotation", "=v"), 2, /--annotation "=v": want KEY=VALUE/);
    for (const format of ["artifact", "wasm-to-oci", "runwasi", "oras"]) {
      fails(
        await build(HELLO_WASM, ...t, "--format", format, "--file", `${notWasmFile}:/x`),
        2,
        new RegExp(`--file needs a tar layer, and format ${format}`),
      );
    }
    fails(
      await build(HELLO_WASM, ...t, "--format", "artifact", "--env", "A=1"),
      2,
      /no image config to hold env/,
    );
    fails(
      await build(HELLO_WASM, ...t, "--format", "bogus"),
      2,
      /unknown --format "bogus"; use one of image, docker/,
    );
    fails(
      await build(HELLO_WASM, ...t, "--file", "/no/such/host/file:/x"),
      3,
      /\/no\/such\/host\/file does not exist/,
    );
    fails(await build(HELLO_WASM, ...t, "--file", `${notWasmFile}:/../x`), 2, /want a path inside the image/);
    fails(await build(HELLO_WASM, ...t, "--file", "no-colon"), 2, /want HOST:PATH/);
    fails(
      await build(HELLO_WASM, ...t, "--file", `${withLink}:/etc`),
      2,
      /passwd is a symlink or special file/,
    );
    fails(await build(HELLO_WASM, ...t, "--file", "/dev/null:/x"), 2, /neither a file nor a directory/);
    fails(await build(HELLO_WASM, ...t, "--file", `${notWasmFile}:/hello.wasm`), 2, /where the module goes/);
    fails(await build(HELLO_WASM, ...t, "--created", "yesterday"), 2, /not an RFC 3339 time/);
    fails(
      await build(HELLO_WASM, ...t, "--output", "docker://x:v1"),
      2,
      /want oci:DIR\[:TAG\] or oci-archive/,
    );
    fails(await build(HELLO_WASM), 2, /no name given; add -t REF/);
    fails(await build(HELLO_WASM, "-t", "Bad/Name"), 2, /invalid image reference/);
    fails(await build(HELLO_WASM, "-t", `x@${sha256("x")}`), 2, /named by a tag, not a digest/);
    fails(await build(HELLO_WASM, "-t", "oci:/tmp/x"), 2, /write layouts with --output/);
    fails(await build(...t), 2, /no module given/);
    fails(await build("--index", "i:v1", "--add", "nothere:v1"), 3, /--add nothere:v1: not in the store/);
    fails(await build("--index", "i:v1", "--add", `oci:${join(work.dir, "no-layout")}:x`), 3, /no-layout/);
    fails(await build("--index", "i:v1"), 2, /--index needs images/);
    fails(
      await build("--index", "i:v1", "--add", "hello:v1", "--format", "docker"),
      2,
      /--format applies to a module build/,
    );
    fails(await build(HELLO_WASM, ...t, "--add", "hello:v1"), 2, /--add and --attest go with --index/);
    const images = await cli(work, ["images", "-q"]);
    assert.doesNotMatch(images.stdout, /bad:v1|i:v1/, "nothing was stored by a failed build");
  });

  it("--help shows an example for every format", async () => {
    const r = await build("--help");
    assert.equal(r.code, 0);
    for (const f of ["image", "docker", "compat", "artifact", "wasm-to-oci", "runwasi", "oras"]) {
      assert.match(r.stdout, new RegExp(`--format ${f}\\b`), `an example with --format ${f}`);
    }
    assert.match(r.stdout, /--index .* --add .*--attest/);
  });
});

describe("nodewasi build for containerd", { skip: skip ?? containerdUnavailable() ?? false }, () => {
  it("an oci-archive imports into containerd under its -t name and runs under the nodewasi shim", async () => {
    const work = await makeWork([]);
    const containerd = await startContainerd("build");
    try {
      const archive = join(work.dir, "hello.tar");
      const r = await cli(work, [
        "build",
        HELLO_WASM,
        "-t",
        "example.com/hello:ctr",
        "--output",
        `oci-archive:${archive}`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const imported = await containerd.ctr(["images", "import", "--platform", "wasip1/wasm", archive]);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /example\.com\/hello:ctr/, "named by io.containerd.image.name");
      const run = await containerd.ctr([
        "run",
        "--rm",
        "--runtime",
        SHIM_RUNTIME,
        "--platform",
        "wasip1/wasm",
        "example.com/hello:ctr",
        "build-ctr",
      ]);
      assert.equal(run.stdout, "Hello from nodewasi!\n", run.stderr);
      assert.equal(run.code, 0);
    } finally {
      await containerd.stop();
      await rm(work.dir, { recursive: true, force: true });
    }
  });
});
