/**
 * `npm run bench -- push`: `nodewasi push` of a 64 MiB wasm image from the content store to a local registry
 * against `skopeo copy oci:... docker://...` of the same image from an OCI layout. Each run pushes to a fresh
 * registry (started untimed), so both send every byte: skopeo remembers where it pushed blobs before (its
 * blob info cache) and would mount them from there, and the store names the image on another registry, so
 * nodewasi has nothing to mount from either. Target: ratio <= 1.0.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildImage } from "../src/oci/build/build.js";
import { writeLayout } from "../src/oci/build/layout-writer.js";
import { bigModule } from "../test/harness/modules.js";
import {
  type Registry,
  registrySkipReason,
  startRegistry,
  toolSkipReason,
} from "../test/harness/registry.js";
import { compare, timeCommand } from "./measure.js";

const SIZE = 64 * 1024 * 1024;
const BIN = resolve(fileURLToPath(import.meta.url), "../../../bin/nodewasi");

export async function benchPush(runs: number): Promise<void> {
  const skip = registrySkipReason() ?? toolSkipReason("skopeo", "wat2wasm");
  if (skip) throw new Error(`cannot run the push benchmark: ${skip}; run ./scripts/install-test-deps.sh`);
  let registry: Registry | undefined;
  const fresh = async () => {
    await registry?.stop();
    registry = await startRegistry();
  };
  const work = await mkdtemp(join(tmpdir(), "nodewasi-bench-"));
  try {
    const layout = join(work, "layout");
    const root = join(work, "root");
    await writeLayout(layout, [
      { image: buildImage({ module: bigModule("bench", SIZE), format: "image" }), tag: "latest" },
    ]);
    const src = `oci:${layout}:latest`;
    execFileSync(process.execPath, [BIN, "--root", root, "pull", "-q", src], { stdio: "ignore" });
    execFileSync(process.execPath, [BIN, "--root", root, "tag", src, "bench.invalid/big:latest"], {
      stdio: "ignore",
    });
    process.stdout.write(
      `push benchmark: ${SIZE / 1048576} MiB module, gzip tar layer, a fresh local docker-registry each run\n\n`,
    );
    await compare(
      "push of a 64 MiB wasm image to a local registry (wall time, fresh registry each run)",
      runs,
      {
        name: "nodewasi push",
        prepare: fresh,
        run: () =>
          timeCommand(process.execPath, [
            BIN,
            "push",
            "--quiet",
            "--root",
            root,
            "bench.invalid/big:latest",
            `${registry!.host}/bench/big:latest`,
          ]),
      },
      {
        name: "skopeo copy",
        prepare: fresh,
        run: () =>
          timeCommand("skopeo", [
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            src,
            `docker://${registry!.host}/bench/big:latest`,
          ]),
      },
    );
  } finally {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  }
}
