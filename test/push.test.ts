/**
 * `nodewasi push` round trips through Debian's docker-registry, judged by skopeo (a tool no one here wrote):
 * every packaging format and both index kinds are built, pulled into the store from an OCI layout, pushed with
 * the real bin/nodewasi, accepted by `skopeo inspect --raw` / `--config` with the expected media types and
 * platform, pulled back with the module's sha256 intact, and run by `nodewasi run` with the expected output.
 * Then what a second push, a push to another repository and a chunked push send, seen through a recording proxy.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sha256 } from "../src/internal/index.js";
import {
  type BuiltImage,
  buildImage,
  buildIndex,
  type CopyResult,
  IMAGE_FORMATS,
  type ImageFormat,
  MediaType,
  pull,
  writeLayout,
} from "../src/oci/index.js";
import { type FaultProxy, startFaultProxy } from "./harness/fault-proxy.js";
import { type CliWork, cli, makeWork, stopShim } from "./harness/index.js";
import { bigModule, helloModule } from "./harness/modules.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";

const skip = registrySkipReason() ?? toolSkipReason("skopeo", "wat2wasm");

interface Case {
  tag: string;
  built: BuiltImage;
  message: string;
  /** Top media type skopeo must report. */
  mediaType: string;
  /** `os/arch` the config says (image formats), or the config media type of an artifact. */
  config: { platform: string } | { mediaType: string };
  /** Platforms an index lists. */
  platforms?: string[];
}

const ARTIFACTS: readonly ImageFormat[] = ["artifact", "wasm-to-oci", "oras"];

function cases(): Case[] {
  const out: Case[] = IMAGE_FORMATS.map((format) => {
    const message = `hello from a pushed ${format} image`;
    const built = buildImage({ module: helloModule(message), format });
    const manifest = JSON.parse(built.blobs.get(built.manifest.digest)!.toString()) as {
      config: { mediaType: string };
    };
    return {
      tag: format,
      built,
      message,
      mediaType: format === "docker" ? MediaType.DockerManifest : MediaType.OciManifest,
      config: ARTIFACTS.includes(format)
        ? { mediaType: manifest.config.mediaType }
        : { platform: format === "compat" ? "linux/amd64" : "wasip1/wasm" },
    };
  });
  const amd64 = buildImage({
    module: Buffer.from("#!/bin/sh\n"),
    format: "image",
    platform: { os: "linux", architecture: "amd64" },
  });
  for (const docker of [false, true]) {
    const message = `hello from a pushed ${docker ? "docker manifest list" : "OCI index"}`;
    const wasm = buildImage({
      module: helloModule(message),
      format: docker ? "docker" : "image",
      platform: { os: "wasi", architecture: "wasm" },
    });
    const nativeDocker = buildImage({
      module: Buffer.from("#!/bin/sh\n"),
      format: "docker",
      platform: { os: "linux", architecture: "amd64" },
    });
    out.push({
      tag: docker ? "docker-list" : "oci-index",
      built: buildIndex([{ image: docker ? nativeDocker : amd64 }, { image: wasm }], { docker }),
      message,
      mediaType: docker ? MediaType.DockerManifestList : MediaType.OciIndex,
      config: { platform: "wasi/wasm" },
      platforms: ["linux/amd64", "wasi/wasm"],
    });
  }
  return out;
}

const skopeo = (...args: string[]) =>
  execFileSync("skopeo", [...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

describe("push round trips through docker-registry and skopeo", { skip: skip ?? false }, () => {
  let registry: Registry;
  let work: CliWork;
  let layout: string;
  const all = skip ? [] : cases();

  before(async () => {
    registry = await startRegistry();
    work = await makeWork([]);
    work.env.DOCKER_CONFIG = join(work.dir, "no-docker-config");
    layout = join(work.dir, "images");
    await writeLayout(
      layout,
      all.map((c) => ({ image: c.built, tag: c.tag })),
    );
  });
  after(async () => {
    await stopShim(work?.address);
    await registry?.stop();
    if (work) await rm(work.dir, { recursive: true, force: true });
  });

  for (const c of all) {
    test(`${c.tag}: build, pull into the store, push, skopeo, pull back, run`, async () => {
      const src = `oci:${layout}:${c.tag}`;
      const ref = `${registry.host}/formats/${c.tag}:v1`;
      const pulled = await cli(work, ["pull", "-q", src]);
      assert.equal(pulled.code, 0, pulled.stderr);

      const pushed = await cli(work, ["push", "--json", src, ref]);
      assert.equal(pushed.code, 0, pushed.stderr);
      const result = JSON.parse(pushed.stdout) as CopyResult;
      assert.equal(result.digest, c.built.manifest.digest, "the digest is the built one: bytes unchanged");
      assert.equal(result.destination, ref);
      assert.equal(result.blobs.uploaded + result.blobs.exists, blobCount(c.built));
      assert.equal(result.manifests, c.platforms ? 3 : 1);

      const raw = JSON.parse(skopeo("inspect", "--raw", "--tls-verify=false", `docker://${ref}`)) as {
        mediaType?: string;
        manifests?: { platform: { os: string; architecture: string } }[];
        config?: { mediaType: string };
      };
      assert.equal(raw.mediaType ?? MediaType.OciManifest, c.mediaType);
      if (c.platforms) {
        assert.deepEqual(
          raw.manifests?.map((m) => `${m.platform.os}/${m.platform.architecture}`),
          c.platforms,
        );
      }
      if ("platform" in c.config) {
        // From an index, skopeo picks the entry for --override-os/--override-arch (default: this machine's).
        const [os, arch] = c.config.platform.split("/") as [string, string];
        const config = JSON.parse(
          skopeo(
            "--override-os",
            os,
            "--override-arch",
            arch,
            "inspect",
            "--config",
            "--tls-verify=false",
            `docker://${ref}`,
          ),
        ) as {
          os: string;
          architecture: string;
        };
        assert.equal(`${config.os}/${config.architecture}`, c.config.platform);
      } else {
        // skopeo refuses image operations on artifacts; their config is checked raw, byte for byte.
        assert.equal(raw.config?.mediaType, c.config.mediaType);
        const config = skopeo("inspect", "--config", "--raw", "--tls-verify=false", `docker://${ref}`);
        const manifest = JSON.parse(c.built.blobs.get(c.built.manifest.digest)!.toString()) as {
          config: { digest: `sha256:${string}` };
        };
        assert.equal(sha256(Buffer.from(config)), manifest.config.digest);
      }

      const root = await mkdtemp(join(tmpdir(), "nodewasi-push-back-"));
      try {
        const back = await pull(ref, { root });
        assert.equal(
          back.module.digest,
          sha256(helloModule(c.message)),
          "module sha256 after the round trip",
        );
      } finally {
        await rm(root, { recursive: true, force: true });
      }
      const ran = await cli(work, ["run", "--rm", ref]);
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, `${c.message}\n`);
    });
  }

  describe("what goes over the wire (through a recording proxy)", () => {
    let proxy: FaultProxy;
    before(async () => {
      proxy = await startFaultProxy(registry.host);
    });
    after(async () => proxy?.stop());

    const uploads = (from: number) =>
      proxy.requests.slice(from).filter((r) => /\/blobs\/uploads\//.test(r.path) && !/mount=/.test(r.path));

    test("pushing the same image twice uploads nothing the second time", async () => {
      const src = `oci:${layout}:image`;
      const ref = `${proxy.host}/twice/image:v1`;
      const first = await cli(work, ["push", "--json", src, ref]);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual((JSON.parse(first.stdout) as CopyResult).blobs, {
        uploaded: 2,
        exists: 0,
        mounted: 0,
      });
      const mark = proxy.requests.length;
      const second = await cli(work, ["push", "--json", src, ref]);
      assert.equal(second.code, 0, second.stderr);
      const r = JSON.parse(second.stdout) as CopyResult;
      assert.deepEqual(r.blobs, { uploaded: 0, exists: 2, mounted: 0 });
      assert.equal(r.bytesUploaded, 0);
      assert.deepEqual(uploads(mark), [], "no upload session was opened");
      assert.equal(proxy.requests.slice(mark).filter((q) => q.method === "HEAD").length, 2);
    });

    test("a push to another repository of the same registry mounts the blobs", async () => {
      const from = `${proxy.host}/mount/from:v1`;
      const first = await cli(work, ["push", `oci:${layout}:docker`, from]);
      assert.equal(first.code, 0, first.stderr);
      // Pulled under its registry name, the store knows which repository holds the blobs already.
      assert.equal((await cli(work, ["pull", "-q", from])).code, 0);
      const mark = proxy.requests.length;
      const r = await cli(work, ["push", "--json", from, `${proxy.host}/mount/to:v1`]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as CopyResult).blobs, { uploaded: 0, exists: 0, mounted: 2 });
      assert.equal(proxy.requests.slice(mark).filter((q) => /mount=sha256/.test(q.path)).length, 2);
      assert.deepEqual(uploads(mark), []);
    });

    test("--chunk-size sends each blob in PATCH chunks, and the image pulls back intact", async () => {
      const module = bigModule("chunked", 300 * 1024);
      const image = buildImage({ module, format: "artifact" });
      const dir = join(work.dir, "chunked");
      await writeLayout(dir, [{ image, tag: "v1" }]);
      const mark = proxy.requests.length;
      const ref = `${proxy.host}/chunked/app:v1`;
      const r = await cli(work, ["push", "--chunk-size", "64KiB", `oci:${dir}:v1`, ref]);
      assert.equal(r.code, 0, r.stderr);
      const patches = proxy.requests.slice(mark).filter((q) => q.method === "PATCH");
      assert.equal(
        patches.length,
        Math.ceil(module.length / 65536) + 1,
        "one PATCH per 64 KiB, config included",
      );
      assert.match(r.stderr, /pushing sha256:[0-9a-f]{12} 300 KiB\n/);
      const root = await mkdtemp(join(tmpdir(), "nodewasi-push-back-"));
      try {
        assert.equal((await pull(ref, { root })).module.digest, sha256(module));
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  });
});

/** Distinct non-manifest blobs of a built image (configs and layers). */
function blobCount(built: BuiltImage): number {
  let n = 0;
  for (const bytes of built.blobs.values()) {
    const json = (() => {
      try {
        return JSON.parse(bytes.toString()) as { schemaVersion?: number };
      } catch {
        return undefined;
      }
    })();
    if (json?.schemaVersion !== 2) n++;
  }
  return n;
}
