import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { FakeImages } from "../../test/harness/fake-images.js";
import { unmountUnder } from "../../test/harness/mounts.js";
import { CreateOptionsSchema, CreateTaskRequestSchema } from "../gen/index.js";
import { Code, notFound, ShimError } from "../internal/index.js";
import type { RuntimeSpec } from "./bundle.js";
import type { ImageResolver } from "./image-resolver.js";
import { PAUSE_FILE } from "./pause-module.js";
import {
  CRI_CONTAINER_TYPE,
  setupExec,
  setupFromBundle,
  setupFromImage,
  type TaskSetup,
} from "./task-setup.js";

const WASM = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
const MiB = 1024 * 1024;

/** Asserts a ShimError with `code` whose message matches `message`. */
const shimError = (code: Code, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ShimError, String(err));
  assert.equal(err.code, code, err.message);
  assert.match(err.rawMessage, message);
  return true;
};

describe("task setup", () => {
  let dir: string;
  /** A host directory a mount can bind. */
  let data: string;
  const setups: TaskSetup[] = [];
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-task-setup-"));
    await mkdir(join(dir, "image"));
    await writeFile(join(dir, "image", "hello.wasm"), WASM);
    data = join(dir, "data");
    await mkdir(data);
  });
  after(async () => {
    for (const s of setups) await s.cleanup?.();
    unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  });

  /** Keeps a setup for `after` to undo (the overlay of a task's rootfs view, as root). */
  const kept = (s: TaskSetup) => {
    setups.push(s);
    return s;
  };

  describe("setupFromImage", () => {
    type StdioFields = { stdin?: string; stdout?: string; stderr?: string; terminal?: boolean };
    const request = (stdio: StdioFields = {}) =>
      create(CreateTaskRequestSchema, { id: `img${++n}`, ...stdio });
    const options = (o: MessageInitShape<typeof CreateOptionsSchema> = {}) =>
      create(CreateOptionsSchema, { image: "registry.example/hello:1", ...o });
    /** A setup in a bundle of its own, kept for `after` to undo. */
    const setup = async (
      o: MessageInitShape<typeof CreateOptionsSchema>,
      images = new FakeImages(dir),
      stdio: StdioFields = {},
    ) => {
      const req = request(stdio);
      return kept(await setupFromImage(req, options(o), images, join(dir, req.id)));
    };

    it("takes argv, env and the working directory from the image record, the options adding to them", async () => {
      const images = new FakeImages(dir, { entrypoint: ["/hello.wasm", "default"], workingDir: "/srv" });
      const s = await setup({ args: ["x", "y"], env: ["A=user", "B=2"], platform: "wasip1/wasm" }, images);
      assert.deepEqual(
        images.requests.map((r) => [r.image, r.platform]),
        [["registry.example/hello:1", "wasip1/wasm"]],
      );
      // The options' args replace the image's, after its argv[0].
      assert.deepEqual(s.spec.args, ["/hello.wasm", "x", "y"]);
      assert.deepEqual(s.spec.env, { PATH: "/bin", A: "user", B: "2" });
      assert.equal(s.spec.cwd, "/srv");
      assert.equal(s.spec.module, join(dir, "image", "hello.wasm"));
      assert.equal(s.spec.moduleDigest, `sha256:${"b".repeat(64)}`);
      assert.equal(s.bundle, join(dir, `img${n}`));
      assert.equal(s.rootfs, join(s.bundle, "rootfs"));
      assert.deepEqual(await readFile(join(s.rootfs, "hello.wasm")), WASM, "the task sees the image's files");
      assert.equal(s.image?.name, "registry.example/hello:1");
    });

    it("without args runs the image's own argv; workingDir from the options wins", async () => {
      const images = new FakeImages(dir, { entrypoint: ["/hello.wasm", "default"], workingDir: "/srv" });
      const s = await setup({ workingDir: "/tmp" }, images);
      assert.deepEqual(s.spec.args, ["/hello.wasm", "default"]);
      assert.equal(s.spec.cwd, "/tmp");
    });

    it("preopens the task's rootfs as / and each mount at its destination; caps memory when asked", async () => {
      const s = await setup({
        mounts: [{ source: data, destination: "/data" }],
        memoryLimit: BigInt(64 * MiB),
      });
      assert.deepEqual(s.spec.preopens, { "/": s.rootfs, "/data": data });
      assert.equal(s.spec.memoryLimit, 64 * MiB);
      assert.equal((await setup({})).spec.memoryLimit, undefined);
    });

    it("turns the request's stdio URIs into the runner's targets; terminal sends stderr to stdout", async () => {
      const uris = { stdin: "/f/in", stdout: "/f/out", stderr: "file:///var/log/t.log" };
      const s = await setup({}, undefined, uris);
      assert.deepEqual(
        [s.spec.stdin, s.spec.stdout, s.spec.stderr],
        [
          { kind: "fifo", path: "/f/in" },
          { kind: "fifo", path: "/f/out" },
          { kind: "file", path: "/var/log/t.log" },
        ],
      );
      const t = await setup({}, undefined, { stdout: "/f/out", terminal: true });
      assert.deepEqual([t.spec.stdin, t.spec.stdout], [{ kind: "null" }, { kind: "fifo", path: "/f/out" }]);
      assert.equal(t.spec.stderr, t.spec.stdout);
    });

    it("refuses what it cannot run before anything is pulled or made: no image, a relative mount", async () => {
      const images = new FakeImages(dir);
      const bundle = join(dir, "never");
      await assert.rejects(
        setupFromImage(request(), options({ image: "" }), images, bundle),
        shimError(Code.InvalidArgument, /CreateOptions has no image reference/),
      );
      await assert.rejects(
        setupFromImage(
          request(),
          options({ mounts: [{ source: "data", destination: "/data" }] }),
          images,
          bundle,
        ),
        shimError(Code.InvalidArgument, /mount data:\/data: both paths must be absolute/),
      );
      assert.equal(images.requests.length, 0);
      assert.equal(existsSync(bundle), false);
    });

    it("leaves no bundle behind when the pull fails or a stdio URI is wrong", async () => {
      const failing: ImageResolver = {
        resolve: async (req) => {
          throw notFound(`${req.image}: no such image`);
        },
      };
      const bundle = join(dir, "never");
      await assert.rejects(
        setupFromImage(request(), options(), failing, bundle),
        shimError(Code.NotFound, /no such image/),
      );
      await assert.rejects(
        setupFromImage(request({ stdout: "relative/out" }), options(), new FakeImages(dir), bundle),
        shimError(Code.InvalidArgument, /a FIFO path must be absolute/),
      );
      assert.equal(existsSync(bundle), false);
    });
  });

  describe("setupFromBundle", () => {
    /** A bundle with config.json = `spec` (root.path "rootfs" unless it says) and `files` in its rootfs. */
    async function bundle(spec: RuntimeSpec, files: Record<string, string | Buffer> = {}): Promise<string> {
      const b = join(dir, `bundle${++n}`);
      await mkdir(join(b, "rootfs", "bin"), { recursive: true });
      for (const [name, bytes] of Object.entries(files)) await writeFile(join(b, "rootfs", name), bytes);
      await writeFile(join(b, "config.json"), JSON.stringify({ root: { path: "rootfs" }, ...spec }));
      return b;
    }
    const request = (b: string, stdio: { stdout?: string; terminal?: boolean } = {}) =>
      create(CreateTaskRequestSchema, { id: `t${n}`, bundle: b, ...stdio });

    it("runs config.json's process in the bundle's rootfs, with its mounts, memory limit and #export", async () => {
      const b = await bundle(
        {
          process: { args: ["/app.wasm#run", "a b"], env: ["X=1", "X=2", "Y=y"], cwd: "/" },
          mounts: [
            { destination: "/data", source: data, type: "bind" },
            { destination: "/proc", source: "proc", type: "proc" },
          ],
          linux: { resources: { memory: { limit: 32 * MiB } } },
        },
        { "app.wasm": WASM },
      );
      const s = await setupFromBundle(request(b, { stdout: "/f/out" }), join(dir, "state"));
      const rootfs = join(b, "rootfs");
      assert.equal(s.spec.module, join(rootfs, "app.wasm"));
      assert.deepEqual(s.spec.args, ["/app.wasm", "a b"]);
      assert.equal(s.spec.entry, "run");
      assert.deepEqual(s.spec.env, { X: "2", Y: "y" });
      assert.equal(s.spec.cwd, "/");
      // Only binds of directories become preopens: a wasm guest has no /proc.
      assert.deepEqual(s.spec.preopens, { "/data": data, "/": rootfs });
      assert.equal(s.spec.memoryLimit, 32 * MiB);
      assert.deepEqual(
        [s.spec.stdin, s.spec.stdout, s.spec.stderr],
        [{ kind: "null" }, { kind: "fifo", path: "/f/out" }, { kind: "null" }],
      );
      assert.equal(s.spec.moduleDigest, undefined, "a rootfs module has no stored digest");
      assert.deepEqual([s.bundle, s.rootfs, s.image, s.cleanup], [b, rootfs, undefined, undefined]);
    });

    it("finds a bare module name through the spec's PATH, and reads root.path; no limit, no cap", async () => {
      const b = await bundle({}, { "bin/tool.wasm": WASM });
      await writeFile(
        join(b, "config.json"),
        JSON.stringify({
          root: { path: join(b, "rootfs") },
          process: { args: ["tool.wasm"], env: ["PATH=/bin"] },
          linux: { resources: { memory: { limit: 0 } } },
        }),
      );
      const s = await setupFromBundle(request(b, { stdout: "/f/out", terminal: true }));
      assert.equal(s.spec.module, join(b, "rootfs", "bin", "tool.wasm"));
      assert.deepEqual(s.spec.args, ["/bin/tool.wasm"]);
      assert.equal(s.spec.memoryLimit, undefined);
      assert.equal(s.spec.stderr, s.spec.stdout, "terminal: one stream");
    });

    it("runs the built-in pause module for a CRI sandbox whose args[0] is no wasm, written to pauseDir", async () => {
      const b = await bundle({
        process: { args: ["/pause"], env: ["A=1"], cwd: "/" },
        annotations: { [CRI_CONTAINER_TYPE]: "sandbox" },
      });
      const s = await setupFromBundle(request(b), join(dir, "state"));
      assert.equal(s.spec.module, join(dir, "state", PAUSE_FILE));
      assert.deepEqual([s.spec.args, s.spec.env, s.spec.preopens], [["/pause"], { A: "1" }, {}]);
      // Without a pauseDir, the bundle holds it.
      const own = await setupFromBundle(request(b));
      assert.equal(own.spec.module, join(b, PAUSE_FILE));
    });

    it("says what is wrong with a bundle: none, no config.json, no args, no module, no wasm", async () => {
      await assert.rejects(
        setupFromBundle(create(CreateTaskRequestSchema, { id: "nb" })),
        shimError(Code.InvalidArgument, /task nb: no bundle and no image to create it from/),
      );
      const empty = join(dir, "empty");
      await mkdir(empty);
      await assert.rejects(setupFromBundle(request(empty)), shimError(Code.NotFound, /has no config\.json/));
      await assert.rejects(
        setupFromBundle(request(await bundle({ process: { args: [] } }))),
        shimError(Code.InvalidArgument, /the runtime spec has no process\.args/),
      );
      await assert.rejects(
        setupFromBundle(request(await bundle({ process: { args: ["/missing.wasm"] } }))),
        shimError(Code.NotFound, /module \/missing\.wasm not found/),
      );
      await assert.rejects(
        setupFromBundle(request(await bundle({ process: { args: ["/sh"] } }, { sh: "#!/bin/sh\n" }))),
        shimError(Code.FailedPrecondition, /\/sh is not a WebAssembly module/),
      );
    });
  });

  describe("setupExec", () => {
    const container = async (): Promise<TaskSetup> => {
      const rootfs = join(dir, `exec-rootfs${++n}`);
      await mkdir(rootfs);
      await writeFile(join(rootfs, "main.wasm"), WASM);
      await writeFile(join(rootfs, "other.wasm"), WASM);
      return {
        bundle: join(dir, "exec-bundle"),
        rootfs,
        spec: {
          module: join(rootfs, "main.wasm"),
          moduleDigest: `sha256:${"c".repeat(64)}`,
          entry: "serve",
          args: ["/main.wasm"],
          env: { MAIN: "1" },
          preopens: { "/": rootfs, "/data": data },
          cwd: "/",
          stdin: { kind: "null" },
          stdout: { kind: "null" },
          stderr: { kind: "null" },
          memoryLimit: 16 * MiB,
        },
      };
    };
    const json = (process: unknown) => Buffer.from(JSON.stringify(process));
    const stdio = { stdin: "", stdout: "/f/exec-out", stderr: "", terminal: false };

    it("runs its own module, argv, env and stdio with the container's preopens and memory cap", async () => {
      const c = await container();
      const spec = await setupExec(c, json({ args: ["/other.wasm", "-v"], env: ["E=1"] }), stdio, "exec x");
      assert.equal(spec.module, join(c.rootfs, "other.wasm"));
      assert.deepEqual(spec.args, ["/other.wasm", "-v"]);
      assert.deepEqual(spec.env, { E: "1" });
      assert.deepEqual(spec.preopens, c.spec.preopens);
      assert.equal(spec.memoryLimit, 16 * MiB);
      assert.deepEqual(spec.stdout, { kind: "fifo", path: "/f/exec-out" });
      // The container's export and its module's digest belong to its module, not this one.
      assert.equal(spec.entry, undefined);
      assert.equal(spec.moduleDigest, undefined);
      const entry = await setupExec(c, json({ args: ["/main.wasm#other"] }), stdio, "exec y");
      assert.equal(entry.entry, "other");
    });

    it("refuses a process spec that is no JSON, has no args, or names no module in the rootfs", async () => {
      const c = await container();
      await assert.rejects(
        setupExec(c, Buffer.from("{"), stdio, "exec z"),
        shimError(Code.InvalidArgument, /exec z: the process spec is not JSON/),
      );
      await assert.rejects(
        setupExec(c, json({ env: ["E=1"] }), stdio, "exec z"),
        shimError(Code.InvalidArgument, /exec z: the process spec has no args/),
      );
      await assert.rejects(
        setupExec(c, json({ args: ["/nope.wasm"] }), stdio, "exec z"),
        shimError(Code.NotFound, /module \/nope\.wasm not found/),
      );
    });
  });
});
