/**
 * Images pushed by `nodewasi push` as containerd sees them: Debian's containerd 1.6 (`ctr image pull
 * --platform`) pulls and unpacks the tar-layer formats and both index kinds, and `ctr run` runs a pushed index
 * through the nodewasi shim. The raw-wasm-layer formats are refused by containerd < 1.6.25 with "mismatched
 * image rootfs and manifest layers" (runwasi's docs/src/getting-started/demos.md): asserted too, so a
 * containerd that starts accepting them shows up here. Skipped, with the reason, where containerd cannot run.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type BuiltImage,
  buildImage,
  buildIndex,
  IMAGE_FORMATS,
  type ImageFormat,
  pushImage,
  writeLayout,
} from "../src/oci/index.js";
import {
  containerdUnavailable,
  type PrivateContainerd,
  SHIM_RUNTIME,
  startContainerd,
} from "./harness/containerd.js";
import { helloModule } from "./harness/modules.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";

const skip = containerdUnavailable() ?? registrySkipReason() ?? toolSkipReason("wat2wasm");
/** Formats whose module is a raw (not tar) layer: containerd 1.6.20 cannot unpack them. */
const RAW: readonly ImageFormat[] = ["artifact", "wasm-to-oci", "runwasi", "oras"];

interface Case {
  tag: string;
  built: BuiltImage;
  platform: string;
  accepted: boolean;
}

function cases(): Case[] {
  const out: Case[] = IMAGE_FORMATS.map((format) => ({
    tag: format,
    built: buildImage({ module: helloModule(`ctr pulls ${format}`), format }),
    platform: format === "compat" ? "linux/amd64" : "wasip1/wasm",
    accepted: !RAW.includes(format),
  }));
  for (const docker of [false, true]) {
    const native = buildImage({
      module: Buffer.from("#!/bin/sh\necho native\n"),
      format: docker ? "docker" : "image",
      platform: { os: "linux", architecture: "amd64" },
      entrypoint: "/hello.sh",
    });
    const wasm = buildImage({
      module: helloModule(`ctr runs a pushed ${docker ? "docker list" : "OCI index"}`),
      format: docker ? "docker" : "image",
      platform: { os: "wasi", architecture: "wasm" },
    });
    out.push({
      tag: docker ? "docker-list" : "oci-index",
      built: buildIndex([{ image: native }, { image: wasm }], { docker }),
      platform: "wasi/wasm",
      accepted: true,
    });
  }
  return out;
}

describe("containerd 1.6 pulls what nodewasi pushes", { skip: skip ?? false }, () => {
  let registry: Registry;
  let ctd: PrivateContainerd;
  let work: string;
  const all = skip ? [] : cases();

  before(async () => {
    registry = await startRegistry();
    ctd = await startContainerd("push");
    work = await mkdtemp(join(tmpdir(), "nodewasi-push-ctr-"));
    const layout = join(work, "layout");
    await writeLayout(
      layout,
      all.map((c) => ({ image: c.built, tag: c.tag })),
    );
    for (const c of all) {
      await pushImage(`oci:${layout}:${c.tag}`, `${registry.host}/ctr/${c.tag}:v1`, {
        root: join(work, "root"),
      });
    }
  });
  after(async () => {
    await ctd?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const c of all) {
    test(`ctr image pull --platform ${c.platform} of ${c.tag}: ${c.accepted ? "pulled and unpacked" : "refused by containerd < 1.6.25"}`, async () => {
      const ref = `${registry.host}/ctr/${c.tag}:v1`;
      const r = await ctd.ctr(["image", "pull", "--plain-http", "--platform", c.platform, ref]);
      if (!c.accepted) {
        assert.notEqual(r.code, 0, ctd.explain(r));
        assert.match(r.stderr, /mismatched image rootfs and manifest layers/, ctd.explain(r));
        return;
      }
      assert.equal(r.code, 0, ctd.explain(r));
      const listed = await ctd.ctr(["image", "ls"]);
      const row = listed.stdout.split("\n").find((l) => l.startsWith(`${ref} `));
      assert.ok(
        row?.includes(c.built.manifest.digest),
        `ctr image ls lists ${ref} at the pushed digest:\n${listed.stdout}`,
      );
    });
  }

  test("ctr run of a pushed OCI index runs its wasi/wasm entry through the nodewasi shim", async () => {
    const ref = `${registry.host}/ctr/oci-index:v1`;
    const pulled = await ctd.ctr(["image", "pull", "--plain-http", "--platform", "wasi/wasm", ref]);
    assert.equal(pulled.code, 0, ctd.explain(pulled));
    const r = await ctd.ctr([
      "run",
      "--rm",
      "--fifo-dir",
      join(ctd.dir, "fifo"),
      "--runtime",
      SHIM_RUNTIME,
      "--platform",
      "wasi/wasm",
      ref,
      "pushed-index",
    ]);
    assert.equal(r.code, 0, ctd.explain(r));
    assert.equal(r.stdout, "ctr runs a pushed OCI index\n", ctd.explain(r));
  });
});
