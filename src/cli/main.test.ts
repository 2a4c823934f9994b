/**
 * The `nodewasi` command as users run it: the real bin/nodewasi in a child process, with its own state root,
 * stdout and stderr read separately (stderr is a pipe, so progress must be plain lines).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { sha256 } from "../internal/index.js";
import { buildImage, writeLayout } from "../oci/index.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BIN = join(REPO, "bin", "nodewasi");

/**
 * A WASI command module written byte by byte (so the test needs no wat2wasm): imports
 * `wasi_snapshot_preview1.proc_exit`, has a memory of 1 to 2 pages, exports `_start` (calls proc_exit(0)) and
 * `memory`.
 */
function sampleModule(): Buffer {
  const str = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const bytes = Buffer.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [2, 0x60, 1, 0x7f, 0, 0x60, 0, 0]), // types: (i32)->(), ()->()
    ...section(2, [1, ...str("wasi_snapshot_preview1"), ...str("proc_exit"), 0x00, 0]),
    ...section(3, [1, 1]), // one function of type 1
    ...section(5, [1, 0x01, 1, 2]), // memory min 1 max 2
    ...section(7, [2, ...str("_start"), 0x00, 1, ...str("memory"), 0x02, 0]),
    ...section(10, [1, 6, 0, 0x41, 0, 0x10, 0, 0x0b]), // i32.const 0; call proc_exit; end
  ]);
  // lib has no WebAssembly types here (lib ES2023 only); the engine has it.
  const engine = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
  assert.ok(engine.validate(bytes), "the hand-written sample module is valid wasm");
  return bytes;
}

/** Writes an OCI layout holding one `image`-format wasm image tagged `tag`; returns the module bytes. */
async function writeSampleLayout(dir: string, tag: string): Promise<Buffer> {
  const module = sampleModule();
  await writeLayout(dir, [{ image: buildImage({ module, format: "image" }), tag }]);
  return module;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function nodewasi(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      BIN,
      args,
      { env: { ...process.env, ...env }, cwd: REPO, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe("nodewasi help and usage", () => {
  it("lists every command, the exit codes and examples at the top level", async () => {
    const r = await nodewasi(["--help"]);
    assert.equal(r.code, 0);
    for (const cmd of ["pull", "images", "inspect", "rmi", "prune", "check"])
      assert.match(r.stdout, new RegExp(`^  ${cmd}\\b`, "m"));
    assert.match(r.stdout, /^Exit codes:$/m);
    assert.match(r.stdout, /^ {2}130 +interrupted/m);
    assert.match(r.stdout, /^Examples:$/m);
  });

  for (const cmd of ["pull", "images", "inspect", "rmi", "prune", "check"]) {
    it(`${cmd} --help has examples`, async () => {
      const r = await nodewasi([cmd, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Usage: nodewasi ${cmd}`, "m"));
      assert.match(r.stdout, new RegExp(`^Examples:\\n  \\$ nodewasi .*${cmd}`, "m"));
      assert.equal(r.stderr, "");
    });
  }

  it("prints the package version", async () => {
    const r = await nodewasi(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });

  it("exits 2 on an unknown option, saying so on stderr only", async () => {
    const r = await nodewasi(["pull", "--no-such-flag", "x"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^nodewasi: unknown option '--no-such-flag'/);
  });

  it("exits 2 on a missing argument", async () => {
    const r = await nodewasi(["inspect"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^nodewasi: missing required argument 'ref'/);
  });
});

describe("nodewasi pull, images, inspect, rmi, prune", () => {
  let root: string;
  let work: string;
  let layout: string;
  let moduleBytes: Buffer;
  const env = () => ({ NODEWASI_ROOT: root });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nodewasi-cli-"));
    root = join(work, "root");
    layout = join(work, "layout");
    moduleBytes = await writeSampleLayout(layout, "v1");
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("refuses a bad reference with exit 2 and a clear message", async () => {
    const r = await nodewasi(["pull", "Not A Valid Ref!"], env());
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^nodewasi: .*invalid.*Not A Valid Ref!/i);
  });

  it("refuses a bad --platform with exit 2", async () => {
    const r = await nodewasi(["pull", "--platform", "wasm", `oci:${layout}:v1`], env());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^nodewasi: invalid platform "wasm"/);
  });

  it("exits 6 for content it refuses, not 2: the command line was fine", async () => {
    const bad = join(work, "not-wasm");
    await writeLayout(bad, [
      { image: buildImage({ module: Buffer.from("#!/bin/sh\n"), format: "artifact" }), tag: "v1" },
    ]);
    const r = await nodewasi(["pull", `oci:${bad}:v1`], env());
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /^nodewasi: .*not a wasm binary/m);
  });

  it("says a missing layout is not found (exit 3)", async () => {
    const r = await nodewasi(["pull", `oci:${join(work, "nowhere")}`], env());
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^nodewasi: .*nowhere/);
  });

  it("pulls an OCI layout with plain-line progress on stderr and a summary on stdout", async () => {
    const r = await nodewasi(["pull", `oci:${layout}:v1`], env());
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /[\r\x1b]/, "no carriage returns or escapes when stderr is not a TTY");
    assert.doesNotMatch(r.stderr, /ExperimentalWarning/);
    assert.match(r.stderr, new RegExp(`^resolved oci:${layout}:v1 to sha256:[0-9a-f]{64}$`, "m"));
    assert.match(r.stderr, /^platform wasip1\/wasm, format image \(manifest sha256:[0-9a-f]{12}, 1 layer, /m);
    assert.match(r.stderr, /^fetching sha256:[0-9a-f]{12} \d/m);
    assert.match(r.stderr, /^extracted module sha256:[0-9a-f]{12} /m);
    assert.match(r.stderr, new RegExp(`^done oci:${layout}:v1 in \\S+, fetched `, "m"));
    assert.match(
      r.stdout,
      new RegExp(`^module: +${sha256(moduleBytes)} \\d+ B \\(${moduleBytes.length} bytes, module\\)$`, "m"),
    );
    assert.match(r.stdout, /^platform: +wasip1\/wasm$/m);
  });

  it("pulls again from the store: --json prints the PullResult and no progress", async () => {
    const r = await nodewasi(["pull", "--json", `oci:${layout}:v1`], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const result = JSON.parse(r.stdout);
    assert.equal(result.name, `oci:${layout}:v1`);
    assert.equal(result.module.digest, sha256(moduleBytes));
    assert.equal(result.module.size, moduleBytes.length);
    assert.equal(result.bytesFetched, 0);
    assert.ok(existsSync(result.module.path));
  });

  it("--quiet prints only the module digest", async () => {
    const r = await nodewasi(["pull", "-q", `oci:${layout}:v1`], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${sha256(moduleBytes)}\n`);
    assert.equal(r.stderr, "");
  });

  it("lists the image as JSON and as a table", async () => {
    const json = await nodewasi(["images", "--json"], env());
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].name, `oci:${layout}:v1`);
    assert.equal(rows[0].platform, "wasip1/wasm");
    assert.equal(rows[0].format, "image");
    assert.deepEqual(rows[0].module, {
      digest: sha256(moduleBytes),
      size: moduleBytes.length,
      kind: "module",
    });

    const table = await nodewasi(["images"], env());
    const [head, row, extra] = table.stdout.split("\n");
    assert.match(head!, /^NAME +DIGEST +PLATFORM +FORMAT +MODULE SIZE$/);
    assert.match(row!, new RegExp(`^oci:${layout}:v1 +[0-9a-f]{12} +wasip1/wasm +image +\\d+ B$`));
    assert.equal(extra, "");
  });

  it("inspects the module: WASI imports, memory limits, entrypoint", async () => {
    const r = await nodewasi(["inspect", "--json", `oci:${layout}:v1`], env());
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(info.module.digest, sha256(moduleBytes));
    assert.equal(info.wasm.kind, "module");
    assert.deepEqual(
      info.wasm.imports.map((i: { module: string; name: string }) => `${i.module}.${i.name}`),
      ["wasi_snapshot_preview1.proc_exit"],
    );
    assert.equal(info.wasm.memory.min, 1);
    assert.equal(info.wasm.memory.max, 2);
    assert.deepEqual(info.entrypoint, ["/module.wasm"]);

    const text = await nodewasi(["inspect", `oci:${layout}:v1`], env());
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^memory: +min 1 page \(64\.0 KiB\), max 2 pages \(128 KiB\)$/m);
    assert.match(text.stdout, /^ {2}wasi_snapshot_preview1\.proc_exit \(func\)$/m);
  });

  it("says how to get an image that is not in the store (exit 3)", async () => {
    const r = await nodewasi(["inspect", "example.com/not/pulled:v9"], env());
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      "nodewasi: example.com/not/pulled:v9 is not in the store; run `nodewasi pull example.com/not/pulled:v9`\n",
    );
  });

  it("refuses an invalid reference instead of suggesting to pull it (exit 2)", async () => {
    const r = await nodewasi(["inspect", "Bad Ref!!"], env());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^nodewasi: .*invalid.*Bad Ref!!/i);
    assert.doesNotMatch(r.stderr, /nodewasi pull/);
  });

  it("rmi untags what exists, reports what does not, and exits 3", async () => {
    const r = await nodewasi(["rmi", "example.com/missing:v1", `oci:${layout}:v1`], env());
    assert.equal(r.code, 3);
    assert.match(r.stdout, new RegExp(`^untagged oci:${layout}:v1 \\(sha256:[0-9a-f]{64}\\)\\n$`));
    assert.match(r.stderr, /^nodewasi: example\.com\/missing:v1 is not in the store/);
    const after = await nodewasi(["images", "--json"], env());
    assert.deepEqual(JSON.parse(after.stdout), []);
  });

  it("prune frees what nothing references, then finds nothing more", async () => {
    const first = await nodewasi(["prune", "--json"], env());
    assert.equal(first.code, 0, first.stderr);
    const freed = JSON.parse(first.stdout);
    assert.ok(freed.removed > 0, first.stdout);
    assert.ok(freed.bytes >= moduleBytes.length, first.stdout);
    const second = await nodewasi(["prune"], env());
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, "removed 0 items, freed 0 B\n");
  });

  it("pulls the example image when it is there", async (t) => {
    const hello = join(REPO, "examples", "images", "hello");
    if (!existsSync(join(hello, "index.json"))) {
      t.skip("examples/images/hello is not built yet");
      return;
    }
    const r = await nodewasi(["pull", "--json", `oci:${hello}:latest`], env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(JSON.parse(r.stdout).module.digest, /^sha256:[0-9a-f]{64}$/);
  });
});
