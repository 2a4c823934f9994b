/**
 * Images containerd 1.6 cannot unpack (CNCF Wasm OCI artifact, wasm-to-oci, runwasi wasm layers: reference
 * containerd-shim-protocol.md section 7), run through containerd-shim-nodewasi-v1 by the shim's own pull:
 * `ctr run --rootfs EMPTY_DIR --annotation io.nodewasi.image=REF` gives the shim an empty rootfs and names the
 * image; the shim pulls it from a private docker-registry and runs its module. Also the "done when":
 * `ctr image pull --plain-http --platform wasi/wasm` from that registry, then `ctr run --platform wasi/wasm`, for
 * a multi-platform index and for a single-platform image. Skipped, with the reason, when containerd or
 * docker-registry cannot run here.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildImage } from "../src/oci/index.js";
import {
  containerdUnavailable,
  type PrivateContainerd,
  REPO_DIR,
  SHIM_RUNTIME,
  startContainerd,
} from "./harness/containerd.js";
import {
  helloModule,
  platformFixtures,
  pushBuilt,
  type Registry,
  registrySkipReason,
  startRegistry,
  useDockerConfig,
} from "./harness/index.js";

const hello = readFileSync(join(REPO_DIR, "examples/hello/hello.wasm"));
const exitCode = readFileSync(join(REPO_DIR, "examples/modules/exit-code.wasm"));
const WASI = { architecture: "wasm", os: "wasi" };
const CREDENTIALS = { user: "shim", password: "s3cret-pull" };

const skip = containerdUnavailable() ?? registrySkipReason();

describe("the shim pulls what containerd cannot unpack; ctr pulls wasi/wasm images from a registry", {
  skip: skip ?? false,
}, () => {
  let ctd: PrivateContainerd;
  let registry: Registry;
  let privateRegistry: Registry;
  let restoreDockerConfig: (() => Promise<void>) | undefined;
  let tmp: string;
  const fifo = () => join(ctd.dir, "fifo");

  /** `ctr run --rm --rootfs DIR` (a fresh empty dir unless given) of task `id`, annotated `k=v`. */
  const runAnnotated = (
    id: string,
    annotations: Record<string, string>,
    args: string[] = [],
    rootfs?: string,
  ) =>
    ctd.ctr([
      "run",
      "--rm",
      "--rootfs",
      "--fifo-dir",
      fifo(),
      "--runtime",
      SHIM_RUNTIME,
      ...Object.entries(annotations).flatMap(([k, v]) => ["--annotation", `${k}=${v}`]),
      rootfs ?? mkdtempSync(join(tmp, "rootfs-")),
      id,
      ...args,
    ]);

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "nodewasi-ctd-artifact-"));
    registry = await startRegistry();
    privateRegistry = await startRegistry({ htpasswd: CREDENTIALS });
    // containerd, and through it the shim, read DOCKER_CONFIG from the environment they start with.
    restoreDockerConfig = await useDockerConfig({ [privateRegistry.host]: CREDENTIALS });
    ctd = await startContainerd();
    const push = (repoTag: string, built: ReturnType<typeof buildImage>) =>
      pushBuilt(registry.host, repoTag, built);
    await push("artifact:v1", buildImage({ module: hello, format: "artifact" }));
    await push("wasm-to-oci:v1", buildImage({ module: exitCode, format: "wasm-to-oci" }));
    await push(
      "runwasi:v1",
      buildImage({
        module: helloModule("hello from a runwasi layer"),
        format: "runwasi",
        entrypoint: "/app.wasm",
      }),
    );
    await push("tar:v1", buildImage({ module: hello, format: "image", entrypoint: "/hello.wasm" }));
    // The harness's linux/amd64 + wasi/wasm index, as published for mixed clusters.
    const multi = platformFixtures().find((f) => f.repoTag === "platforms/multi:v1");
    assert.ok(multi, "the harness has a multi-platform fixture");
    await push("multi:v1", multi.built);
    await push(
      "single:v1",
      buildImage({ module: hello, format: "image", platform: WASI, entrypoint: "/hello.wasm" }),
    );
    await pushBuilt(
      privateRegistry.host,
      "secret:v1",
      buildImage({ module: helloModule("hello from a private registry"), format: "artifact" }),
      CREDENTIALS,
    );
  });

  after(async () => {
    await ctd?.stop();
    await restoreDockerConfig?.();
    await registry?.stop();
    await privateRegistry?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("a CNCF Wasm OCI artifact, no args: the shim pulls it and runs its module; the pull is in the shim's log", async () => {
    const ref = `${registry.host}/artifact:v1`;
    const r = await runAnnotated("artifact", { "io.nodewasi.image": ref });
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "Hello from nodewasi!\n", ctd.explain(r));
    assert.match(ctd.log(), new RegExp(`nodewasi-shim\\[\\d+\\]: pulled ${ref}: CNCF Wasm OCI artifact`));
    // The shim's store for containerd's namespace `test`, under its NODEWASI_ROOT.
    const store = join(ctd.dir, "nodewasi", "containerd", ctd.namespace, "blobs", "sha256");
    assert.equal(readdirSync(store).length, 3, "manifest, config and layer");
  });

  test("a CNCF artifact with args (io.containerd.image.name): they are the guest's argv", async () => {
    const r = await runAnnotated(
      "artifact-args",
      { "io.containerd.image.name": `${registry.host}/artifact:v1` },
      ["/hello.wasm", "one", "two words"],
    );
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "Hello from nodewasi!\none\ntwo words\n", ctd.explain(r));
  });

  test("a wasm-to-oci image: ctr's exit status is the guest's", async () => {
    const r = await runAnnotated("wasm-to-oci", { "io.nodewasi.image": `${registry.host}/wasm-to-oci:v1` }, [
      "exit-code",
      "7",
    ]);
    assert.equal(r.code, 7, ctd.explain(r));
  });

  test("a runwasi wasm-layer image named by CRI's annotation, args = its config's Entrypoint", async () => {
    // What CRI hands over for such an image: args from the config (`["app.wasm"]`), an empty rootfs.
    const r = await runAnnotated(
      "runwasi",
      { "io.kubernetes.cri.image-name": `${registry.host}/runwasi:v1` },
      ["app.wasm"],
    );
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "hello from a runwasi layer\n", ctd.explain(r));
  });

  test("a tar image into an empty rootfs: its files are copied in, args[0] found there", async () => {
    const rootfs = mkdtempSync(join(tmp, "rootfs-"));
    const r = await runAnnotated(
      "tar",
      { "io.nodewasi.image": `${registry.host}/tar:v1` },
      ["/hello.wasm", "x"],
      rootfs,
    );
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "Hello from nodewasi!\nx\n", ctd.explain(r));
    assert.deepEqual(readdirSync(rootfs), ["hello.wasm"]);
  });

  test("credentials for the shim's pull come from the Docker config (DOCKER_CONFIG)", async () => {
    const r = await runAnnotated("private", { "io.nodewasi.image": `${privateRegistry.host}/secret:v1` });
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "hello from a private registry\n", ctd.explain(r));
  });

  test("an annotation naming a missing image: ctr fails with what the rootfs lacked and why the pull failed", async () => {
    const ref = `${registry.host}/missing:v1`;
    const r = await runAnnotated("missing", { "io.nodewasi.image": ref }, ["/x.wasm"]);
    assert.notEqual(r.code, 0, ctd.explain(r));
    assert.match(
      r.stderr,
      new RegExp(
        `task missing: the rootfs has no /x\\.wasm, and pulling ${ref} \\(named by the annotation io\\.nodewasi\\.image\\) failed: .*MANIFEST_UNKNOWN`,
      ),
      ctd.explain(r),
    );
    const ls = await ctd.ctr(["container", "ls", "-q"]);
    assert.doesNotMatch(ls.stdout, /^missing$/m, "ctr run --rm removed the container");
  });

  test("no annotation and an empty rootfs: the spec's lack of args is the error", async () => {
    const r = await runAnnotated("bare", {});
    assert.notEqual(r.code, 0, ctd.explain(r));
    assert.match(r.stderr, /task bare: the runtime spec has no process\.args/, ctd.explain(r));
  });

  for (const tag of ["multi", "single"]) {
    test(`ctr image pull --plain-http --platform wasi/wasm, then ctr run --platform wasi/wasm (${tag})`, async () => {
      const ref = `${registry.host}/${tag}:v1`;
      const pulled = await ctd.ctr(["image", "pull", "--plain-http", "--platform", "wasi/wasm", ref]);
      assert.equal(pulled.code, 0, ctd.explain(pulled));
      const r = await ctd.ctr([
        "run",
        "--rm",
        "--fifo-dir",
        fifo(),
        "--runtime",
        SHIM_RUNTIME,
        "--platform",
        "wasi/wasm",
        ref,
        `pulled-${tag}`,
      ]);
      assert.equal(r.code, 0, ctd.explain(r));
      const greeting = tag === "multi" ? "hello from a multi-platform index" : "Hello from nodewasi!";
      assert.equal(r.stdout, `${greeting}\n`, ctd.explain(r));
    });
  }
});
