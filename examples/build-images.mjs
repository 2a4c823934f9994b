#!/usr/bin/env node
/**
 * Regenerates examples/images/hello, the OCI image layout that `npm start` and the README's
 * `nodewasi pull oci:examples/images/hello:latest` use with no network. Built with nodewasi's own image
 * builder (dist/src/oci/build/build.js, so run `npm run build` first), reproducibly: running it again gives the same
 * bytes and digests, and `--check` verifies the committed layout is exactly what the builder makes now.
 *
 * Tags:  latest  hello.wasm (from hello.c), an OCI image for wasip1/wasm, Entrypoint /hello.wasm
 *        wat     hello-wat.wasm (from hello.wat), same shape
 * Layers are plain tar (application/vnd.oci.image.layer.v1.tar).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = join(here, "..", "dist", "src", "oci", "build");
if (!existsSync(join(dist, "build.js"))) {
  console.error("build-images: dist/src/oci/build/build.js not found; run `npm run build` first");
  process.exit(1);
}
const { buildImage } = await import(join(dist, "build.js"));
const { writeLayout } = await import(join(dist, "layout-writer.js"));

const platform = { architecture: "wasm", os: "wasip1" };
// An uncompressed layer: gzip output depends on the zlib inside Node (and its CPU-specific code paths),
// while a plain tar is the same bytes on every machine, so `--check` holds everywhere.
const image = (file) =>
  buildImage({
    module: readFileSync(join(here, "hello", file)),
    format: "image",
    platform,
    entrypoint: "/hello.wasm",
    compression: "none",
  });

const target = join(here, "images", "hello");
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "nodewasi-example-")) : target;
// A fresh layout, so blobs of earlier builds do not linger.
rmSync(out, { recursive: true, force: true });
await writeLayout(out, [
  { image: image("hello.wasm"), tag: "latest" },
  { image: image("hello-wat.wasm"), tag: "wat" },
]);

if (check) {
  try {
    execFileSync("diff", ["-r", target, out], { stdio: "inherit" });
    console.log("build-images: examples/images/hello is up to date");
  } catch {
    console.error(
      "build-images: examples/images/hello differs from a fresh build; run `node examples/build-images.mjs`",
    );
    process.exitCode = 1;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
} else {
  const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8"));
  for (const m of index.manifests)
    console.log(`${m.annotations["org.opencontainers.image.ref.name"]}\t${m.digest}`);
}
