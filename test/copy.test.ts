/**
 * `nodewasi copy SRC DST` for every pair of a registry (Debian's docker-registry), an OCI layout directory and
 * an OCI layout archive, with a multi-platform index: skopeo reads each destination back with the manifest
 * bytes unchanged (same digest), and a pull from it gives the module with its sha256. Then what layouts keep
 * (other tags stay), and the errors a user can hit.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sha256 } from "../src/internal/index.js";
import {
  buildImage,
  buildIndex,
  builtImageSource,
  ContentStore,
  type CopyResult,
  copyByName,
  copyToStore,
  pull,
  pushImage,
  writeLayout,
} from "../src/oci/index.js";
import { type CliWork, cli, makeWork } from "./harness/index.js";
import { helloModule } from "./harness/modules.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";

const skip = registrySkipReason() ?? toolSkipReason("skopeo", "wat2wasm");
const KINDS = ["registry", "oci", "oci-archive"] as const;
type Kind = (typeof KINDS)[number];

describe("copy between registries, OCI layouts and OCI archives", { skip: skip ?? false }, () => {
  let registry: Registry;
  let work: CliWork;
  const message = "hello from a copied index";
  const module = skip ? Buffer.alloc(0) : helloModule(message);
  const image = skip
    ? undefined
    : buildIndex([
        {
          image: buildImage({
            module: Buffer.from("#!/bin/sh\n"),
            format: "image",
            platform: { os: "linux", architecture: "amd64" },
          }),
        },
        { image: buildImage({ module, format: "image", platform: { os: "wasi", architecture: "wasm" } }) },
      ]);
  /** Where an image named `name` of each kind lives. */
  const place = (kind: Kind, name: string) =>
    kind === "registry"
      ? `${registry.host}/copy/${name}:v1`
      : kind === "oci"
        ? `oci:${join(work.dir, `${name}-layout`)}:v1`
        : `oci-archive:${join(work.dir, `${name}.tar`)}:v1`;
  const skopeoName = (where: string) => (where.startsWith("oci") ? where : `docker://${where}`);

  before(async () => {
    registry = await startRegistry();
    work = await makeWork([]);
    work.env.DOCKER_CONFIG = join(work.dir, "no-docker-config");
    await writeLayout(join(work.dir, "origin-layout"), [{ image: image!, tag: "v1" }]);
    for (const kind of KINDS) {
      if (kind !== "oci") await copyByName(place("oci", "origin"), place(kind, "origin"));
    }
  });
  after(async () => {
    await registry?.stop();
    if (work) await rm(work.dir, { recursive: true, force: true });
  });

  for (const from of KINDS) {
    for (const to of KINDS) {
      test(`${from} -> ${to}`, async () => {
        const src = place(from, "origin");
        const dst = place(to, `${from}-to-${to}`);
        const r = await cli(work, ["copy", "--json", src, dst]);
        assert.equal(r.code, 0, r.stderr);
        const result = JSON.parse(r.stdout) as CopyResult;
        assert.equal(result.digest, image!.manifest.digest);
        assert.equal(result.manifests, 3);
        // Two configs and two layers; between repositories of one registry they are mounted, not sent.
        const sent = from === "registry" && to === "registry" ? "mounted" : "uploaded";
        assert.equal(result.blobs[sent], 4, JSON.stringify(result.blobs));
        const raw = execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", skopeoName(dst)]);
        assert.equal(sha256(raw), image!.manifest.digest, "skopeo reads the index back byte for byte");
        const root = await mkdtemp(join(tmpdir(), "nodewasi-copy-back-"));
        try {
          const back = await pull(dst, { root });
          assert.equal(back.module.digest, sha256(module));
          assert.equal(`${back.platform.os}/${back.platform.architecture}`, "wasi/wasm");
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      });
    }
  }

  test("a layout destination keeps its other tags, and a second copy writes nothing", async () => {
    const dir = join(work.dir, "shared-layout");
    const other = buildImage({ module: helloModule("another image"), format: "artifact" });
    await writeLayout(dir, [{ image: other, tag: "other" }]);
    const first = await copyByName(place("oci", "origin"), `oci:${dir}:copied`);
    assert.equal(first.blobs.uploaded, 4);
    const second = await copyByName(place("oci", "origin"), `oci:${dir}:copied`);
    assert.deepEqual(second.blobs, { uploaded: 0, exists: 4, mounted: 0 });
    for (const tag of ["other", "copied"]) {
      const raw = execFileSync("skopeo", ["inspect", "--raw", `oci:${dir}:${tag}`]);
      assert.equal(sha256(raw), tag === "other" ? other.manifest.digest : image!.manifest.digest);
    }
  });

  test("the store as a destination: a built image named as pull names images, readable by skopeo", async () => {
    const root = await mkdtemp(join(tmpdir(), "nodewasi-copy-store-"));
    try {
      const store = await ContentStore.open(root);
      const name = `${registry.host}/copy/stored:v1`;
      const r = await copyToStore(builtImageSource(image!), store, name);
      assert.equal(r.blobs.uploaded, 4);
      assert.equal((await store.resolve(name))?.digest, image!.manifest.digest);
      const raw = execFileSync("skopeo", ["inspect", "--raw", `oci:${root}:${name}`]);
      assert.equal(sha256(raw), image!.manifest.digest);
      // What the store holds can be pushed from there, by that name.
      const pushed = await pushImage(name, `${registry.host}/copy/from-store:v1`, { root });
      assert.equal(pushed.digest, image!.manifest.digest);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("a registry-to-registry copy on one registry mounts instead of uploading", async () => {
    const r = await copyByName(place("registry", "origin"), `${registry.host}/copy/mounted:v1`);
    assert.deepEqual(r.blobs, { uploaded: 0, exists: 0, mounted: 4 });
  });

  test("errors: a missing source (exit 3), a bad name (exit 2), nothing on stdout", async () => {
    const missing = await cli(work, [
      "copy",
      `oci:${join(work.dir, "no-such-layout")}:v1`,
      `oci:${work.dir}/x:v1`,
    ]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /^nodewasi: .*no-such-layout does not exist/m);
    const unknownTag = await cli(work, ["copy", `${registry.host}/copy/origin:nope`, `oci:${work.dir}/x:v1`]);
    assert.equal(unknownTag.code, 3, unknownTag.stderr);
    assert.match(unknownTag.stderr, /MANIFEST_UNKNOWN/);
    const bad = await cli(work, ["copy", "Not/A/Ref", `oci:${work.dir}/x:v1`]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /must be lowercase/);
    for (const r of [missing, unknownTag, bad]) assert.equal(r.stdout, "");
  });
});
