/**
 * `nodewasi tag SRC DST` then `nodewasi push DST`: the user's docker-style flow. The new name points at the
 * same manifest, `nodewasi images` lists both, `run DST` fetches and extracts nothing, push sends it under the
 * new name, and a pull of an index followed by a push under another name reads the platforms the pull did
 * not keep from the image's origin.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sha256 } from "../src/internal/index.js";
import { buildImage, buildIndex, type CopyResult, copyByName, writeLayout } from "../src/oci/index.js";
import { type CliWork, cli, makeWork, stopShim } from "./harness/index.js";
import { helloModule } from "./harness/modules.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";

const skip = registrySkipReason() ?? toolSkipReason("skopeo", "wat2wasm");

describe("tag, then push", { skip: skip ?? false }, () => {
  let registry: Registry;
  let work: CliWork;
  const message = "hello from a tagged image";

  before(async () => {
    registry = await startRegistry();
    work = await makeWork([]);
    work.env.DOCKER_CONFIG = join(work.dir, "no-docker-config");
    await writeLayout(join(work.dir, "layout"), [
      { image: buildImage({ module: helloModule(message), format: "image" }), tag: "v1" },
    ]);
  });
  after(async () => {
    await stopShim(work?.address);
    await registry?.stop();
    if (work) await rm(work.dir, { recursive: true, force: true });
  });

  test("a new name for a stored image, listed, run without a pull, pushed under that name", async () => {
    const src = `oci:${join(work.dir, "layout")}:v1`;
    const dst = `${registry.host}/tagged/app:v2`;
    assert.equal((await cli(work, ["pull", "-q", src])).code, 0);
    const tagged = await cli(work, ["tag", "--json", src, dst]);
    assert.equal(tagged.code, 0, tagged.stderr);
    const t = JSON.parse(tagged.stdout) as { name: string; descriptor: { digest: string } };
    assert.equal(t.name, dst);
    const images = await cli(work, ["images", "--json"]);
    const listed = JSON.parse(images.stdout) as { name: string; digest: string }[];
    const digests = new Set(listed.filter((i) => i.name === dst || i.name === src).map((i) => i.digest));
    assert.equal(listed.filter((i) => i.name === dst || i.name === src).length, 2, images.stdout);
    assert.equal(digests.size, 1, "both names, one manifest");

    const ran = await cli(work, ["run", "--rm", dst]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, `${message}\n`);
    assert.doesNotMatch(ran.stderr, /fetching|extracted module/, "nothing fetched or extracted");

    const pushed = await cli(work, ["push", "--json", dst]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const r = JSON.parse(pushed.stdout) as CopyResult;
    assert.equal(r.destination, dst);
    assert.equal(r.digest, t.descriptor.digest);
  });

  test("tag of a name the store does not have: exit 3, and how to get it", async () => {
    const r = await cli(work, ["tag", `${registry.host}/nowhere/app:v1`, `${registry.host}/x/y:v1`]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^nodewasi: no image named 127\.0\.0\.1:\d+\/nowhere\/app:v1 in the local store/m);
    assert.equal(r.stdout, "");
  });

  test("a pulled index pushed under another name: the other platforms come from its origin", async () => {
    const wasmMessage = "hello from the wasm entry of a pulled index";
    const index = buildIndex([
      {
        image: buildImage({
          module: Buffer.from("#!/bin/sh\n"),
          format: "image",
          platform: { os: "linux", architecture: "amd64" },
        }),
      },
      {
        image: buildImage({
          module: helloModule(wasmMessage),
          format: "image",
          platform: { os: "wasi", architecture: "wasm" },
        }),
      },
    ]);
    await writeLayout(join(work.dir, "index-layout"), [{ image: index, tag: "v1" }]);
    const origin = `${registry.host}/origin/multi:v1`;
    await copyByName(`oci:${join(work.dir, "index-layout")}:v1`, origin);
    assert.equal((await cli(work, ["pull", "-q", origin])).code, 0);
    // The store now has the index and the wasm entry, not the linux/amd64 manifest and its blobs; another
    // registry has none of them, so everything is sent, the missing part read from the origin.
    const other = await startRegistry();
    try {
      const dst = `${other.host}/elsewhere/multi:v1`;
      const r = await cli(work, ["push", "--json", origin, dst]);
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout) as CopyResult;
      assert.equal(result.digest, index.manifest.digest);
      assert.equal(result.manifests, 3);
      assert.deepEqual(result.blobs, { uploaded: 4, exists: 0, mounted: 0 });
      const raw = execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${dst}`]);
      assert.equal(sha256(raw), index.manifest.digest);
    } finally {
      await other.stop();
    }
  });
});
