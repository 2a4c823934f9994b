/**
 * A bundle whose rootfs lacks the module, with an image named in its annotations: the shim pulls it with the
 * real StoreImageResolver from a real registry (Debian's docker-registry) and runs its module.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { helloModule } from "../../test/harness/modules.js";
import { pushBuilt } from "../../test/harness/push.js";
import { type Registry, registrySkipReason, startRegistry } from "../../test/harness/registry.js";
import { CreateTaskRequestSchema } from "../gen/index.js";
import { Code, createLogger, ShimError, sha256 } from "../internal/index.js";
import { buildImage } from "../oci/index.js";
import type { RuntimeSpec } from "./bundle.js";
import { annotatedImage, IMAGE_ANNOTATIONS, NODEWASI_IMAGE_ANNOTATION } from "./image-annotations.js";
import { namespaceStoreRoot, StoreImageResolver } from "./image-resolver.js";
import { CRI_CONTAINER_TYPE, setupFromBundle } from "./task-setup.js";

const CRI = "io.kubernetes.cri.image-name";
const CONTAINERD = "io.containerd.image.name";

describe("annotatedImage", () => {
  it("reads CRI's annotation, then containerd's, then nodewasi's, skipping blank values", () => {
    assert.deepEqual(IMAGE_ANNOTATIONS, [CRI, CONTAINERD, NODEWASI_IMAGE_ANNOTATION]);
    const all = { [NODEWASI_IMAGE_ANNOTATION]: "n:1", [CONTAINERD]: "c:1", [CRI]: "k:1" };
    assert.deepEqual(annotatedImage(all), { image: "k:1", annotation: CRI });
    assert.deepEqual(annotatedImage({ ...all, [CRI]: " " }), { image: "c:1", annotation: CONTAINERD });
    assert.deepEqual(annotatedImage({ [NODEWASI_IMAGE_ANNOTATION]: " n:1\n", other: "x" }), {
      image: "n:1",
      annotation: NODEWASI_IMAGE_ANNOTATION,
    });
    assert.equal(annotatedImage({ "io.kubernetes.cri.container-type": "container" }), undefined);
    assert.equal(annotatedImage(undefined), undefined);
  });
});

describe("namespaceStoreRoot", () => {
  it("is <root>/containerd/<namespace>; an empty namespace is default, a name that is no name is hashed", () => {
    assert.equal(namespaceStoreRoot("/var/lib/nodewasi", "k8s.io"), "/var/lib/nodewasi/containerd/k8s.io");
    assert.equal(namespaceStoreRoot("/r", ""), "/r/containerd/default");
    for (const bad of ["..", "a/../../b", "/etc", "a b"]) {
      assert.match(namespaceStoreRoot("/r", bad), /^\/r\/containerd\/ns-[0-9a-f]{16}$/, bad);
    }
    assert.notEqual(namespaceStoreRoot("/r", ".."), namespaceStoreRoot("/r", "/etc"));
  });
});

const skip = registrySkipReason();

describe("setupFromBundle pulls the image the annotations name when the rootfs lacks the module", {
  skip: skip ?? false,
}, () => {
  let registry: Registry;
  let dir: string;
  let resolver: StoreImageResolver;
  const logged: string[] = [];
  const artifactModule = helloModule("hello from the artifact");
  const tarModule = helloModule("hello from the tar image");

  before(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), "nodewasi-bundle-image-"));
    const logger = createLogger({ level: "debug", write: (line) => logged.push(line) });
    resolver = new StoreImageResolver(join(dir, "store"), logger);
    await pushBuilt(registry.host, "artifact:v1", buildImage({ module: artifactModule, format: "artifact" }));
    await pushBuilt(
      registry.host,
      "tar:v1",
      buildImage({
        module: tarModule,
        format: "image",
        entrypoint: "/app.wasm",
        env: ["FROM_IMAGE=1", "BOTH=image"],
        files: [{ path: "keep.txt", data: Buffer.from("from the image") }],
      }),
    );
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let n = 0;
  /** A bundle with an empty rootfs (or `files` in it) and this spec. */
  async function bundle(spec: RuntimeSpec, files: Record<string, string | Buffer> = {}): Promise<string> {
    const b = join(dir, `b${++n}`);
    await mkdir(join(b, "rootfs"), { recursive: true });
    for (const [name, data] of Object.entries(files)) await writeFile(join(b, "rootfs", name), data);
    await writeFile(join(b, "config.json"), JSON.stringify({ root: { path: "rootfs" }, ...spec }));
    return b;
  }
  const setup = async (spec: RuntimeSpec, files?: Record<string, string | Buffer>) => {
    const b = await bundle(spec, files);
    const req = create(CreateTaskRequestSchema, { id: `t${n}`, bundle: b });
    return { b, setup: await setupFromBundle(req, join(dir, "state"), resolver) };
  };
  const rejects = async (spec: RuntimeSpec, code: Code, message: RegExp, files?: Record<string, string>) => {
    const b = await bundle(spec, files);
    const req = create(CreateTaskRequestSchema, { id: `t${n}`, bundle: b });
    await assert.rejects(setupFromBundle(req, join(dir, "state"), resolver), (err: unknown) => {
      assert.ok(err instanceof ShimError, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.rawMessage, message);
      return true;
    });
  };

  it("a CNCF artifact with no args runs the image's module as /module.wasm, and the pull is logged", async () => {
    const ref = `${registry.host}/artifact:v1`;
    const { b, setup: s } = await setup({ annotations: { [NODEWASI_IMAGE_ANNOTATION]: ref } });
    assert.deepEqual(await readFile(s.spec.module), artifactModule);
    assert.ok(s.spec.module.startsWith(join(dir, "store")), s.spec.module);
    assert.deepEqual(s.spec.args, ["/module.wasm"]);
    assert.equal(s.spec.preopens["/"], join(b, "rootfs"));
    assert.equal(s.image?.format, "artifact");
    const text = logged.join("");
    assert.match(
      text,
      new RegExp(
        `pulling ${ref} \\(task t${n}: the runtime spec has no args; ${NODEWASI_IMAGE_ANNOTATION}\\)`,
      ),
    );
    assert.match(text, /pulled 127\.0\.0\.1:\d+\/artifact:v1: CNCF Wasm OCI artifact/);
  });

  it("the second task of the same image uses the store (no second pull)", async () => {
    const ref = `${registry.host}/artifact:v1`;
    logged.length = 0;
    const { setup: s } = await setup({ annotations: { [CRI]: ref } });
    assert.deepEqual(await readFile(s.spec.module), artifactModule);
    assert.doesNotMatch(logged.join(""), /pulling/);
    assert.match(logged.join(""), /using 127\.0\.0\.1:\d+\/artifact:v1 from the store/);
  });

  it("the module from the shim's own pull goes to the runner with its digest, so a damaged store copy never runs", async () => {
    const { setup: s } = await setup({ annotations: { [CRI]: `${registry.host}/artifact:v1` } });
    assert.equal(s.spec.moduleDigest, sha256(artifactModule));
    assert.equal(s.spec.moduleDigest, s.image?.module.digest);
  });

  it("a raw-layer image takes the spec's args as the guest's argv, with a #export suffix", async () => {
    const { setup: s } = await setup({
      process: { args: ["/anything.wasm#run", "a b"], env: ["X=1"], cwd: "/" },
      annotations: { [CONTAINERD]: `${registry.host}/artifact:v1` },
    });
    assert.deepEqual(s.spec.args, ["/anything.wasm", "a b"]);
    assert.equal(s.spec.entry, "run");
    assert.equal(s.spec.env.X, "1");
  });

  it("a tar image is copied into the rootfs (what is there wins) and args[0] is resolved in it", async () => {
    const { b, setup: s } = await setup(
      {
        process: { args: ["/app.wasm", "x"], env: ["BOTH=spec"], cwd: "/" },
        annotations: { [NODEWASI_IMAGE_ANNOTATION]: `${registry.host}/tar:v1` },
        linux: { resources: { memory: { limit: 64 << 20 } } },
      },
      { "keep.txt": "the container's own" },
    );
    const rootfs = join(b, "rootfs");
    assert.equal(s.spec.module, join(rootfs, "app.wasm"));
    assert.deepEqual(await readFile(s.spec.module), tarModule);
    assert.equal(await readFile(join(rootfs, "keep.txt"), "utf8"), "the container's own");
    assert.deepEqual(s.spec.args, ["/app.wasm", "x"]);
    assert.deepEqual(
      { FROM_IMAGE: s.spec.env.FROM_IMAGE, BOTH: s.spec.env.BOTH },
      { FROM_IMAGE: "1", BOTH: "spec" },
    );
    assert.equal(s.spec.memoryLimit, 64 << 20);
  });

  it("a tar image that has no args[0] either: NotFound naming both and the image's own entrypoint", async () => {
    await rejects(
      {
        process: { args: ["/other.wasm"], cwd: "/" },
        annotations: { [NODEWASI_IMAGE_ANNOTATION]: `${registry.host}/tar:v1` },
      },
      Code.NotFound,
      /^task t\d+: the rootfs has no \/other\.wasm, and neither has 127\.0\.0\.1:\d+\/tar:v1 \(named by the annotation io\.nodewasi\.image\): module \/other\.wasm not found .*; the image runs \/app\.wasm when the container is given no args$/,
    );
  });

  it("a missing image: the pull's NotFound, saying what the rootfs lacked and which annotation named it", async () => {
    await rejects(
      {
        process: { args: ["/x.wasm"], cwd: "/" },
        // CRI's annotation comes first, so the good image in nodewasi's is not tried.
        annotations: {
          [CRI]: `${registry.host}/missing:v1`,
          [NODEWASI_IMAGE_ANNOTATION]: `${registry.host}/artifact:v1`,
        },
      },
      Code.NotFound,
      /^task t\d+: the rootfs has no \/x\.wasm, and pulling 127\.0\.0\.1:\d+\/missing:v1 \(named by the annotation io\.kubernetes\.cri\.image-name\) failed: .*missing:v1/,
    );
  });

  it("an annotation naming a local layout is refused: a spec must not make the shim read host paths", async () => {
    await rejects(
      { process: { args: ["/x.wasm"] }, annotations: { [NODEWASI_IMAGE_ANNOTATION]: `oci:${dir}:v1` } },
      Code.InvalidArgument,
      /the rootfs has no \/x\.wasm, and pulling oci:.* failed: oci:.* is a local image layout; the shim pulls registry references only/,
    );
  });

  it("a CRI sandbox never pulls (its image-name is the pause image): it runs the built-in pause module", async () => {
    logged.length = 0;
    const { setup: s } = await setup({
      process: { args: ["/pause"], cwd: "/" },
      annotations: { [CRI_CONTAINER_TYPE]: "sandbox", [CRI]: `${registry.host}/pause:3.9` },
    });
    assert.equal(s.spec.module, join(dir, "state", "pause.wasm"));
    assert.equal(s.image, undefined);
    assert.doesNotMatch(logged.join(""), /pulling/);
  });

  it("a file that is there but no wasm is still FailedPrecondition: no pull", async () => {
    await rejects(
      {
        process: { args: ["/x.wasm"], cwd: "/" },
        annotations: { [NODEWASI_IMAGE_ANNOTATION]: `${registry.host}/artifact:v1` },
      },
      Code.FailedPrecondition,
      /^\/x\.wasm is not a WebAssembly module/,
      { "x.wasm": "#!/bin/sh\n" },
    );
  });

  it("without an annotation, a missing module is NotFound as before", async () => {
    await rejects({ process: { args: ["/x.wasm"], cwd: "/" } }, Code.NotFound, /^module \/x\.wasm not found/);
  });
});
