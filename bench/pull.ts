/**
 * `npm run bench -- pull`: `nodewasi pull` of a 64 MiB wasm image from a local registry against
 * `skopeo copy docker://... oci:...` of the same image, each into an empty store every run. skopeo only copies
 * blobs: it hashes each while writing it once, fsyncs it and renames it into an OCI layout (two fsyncs, nothing
 * decompressed, no diff_id checked). nodewasi does that too (the layer written once, hashed once) and also
 * gunzips the layer twice (the look-ahead scan of unpack-scan.ts and the applier), writes and hashes the module
 * in the rootfs and keeps its lease, record and index crash-safe (13 fsyncs), so it does strictly more work:
 * about four times skopeo's CPU. Target: ratio <= 1.0.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildImage } from "../src/oci/build/build.js";
import { bigModule } from "../test/harness/modules.js";
import { pushBuilt } from "../test/harness/push.js";
import { registrySkipReason, startRegistry, toolSkipReason } from "../test/harness/registry.js";
import { compare, timeCommand } from "./measure.js";

const SIZE = 64 * 1024 * 1024;
const BIN = resolve(fileURLToPath(import.meta.url), "../../../bin/nodewasi");

export async function benchPull(runs: number): Promise<void> {
  const skip = registrySkipReason() ?? toolSkipReason("skopeo");
  if (skip) throw new Error(`cannot run the pull benchmark: ${skip}; run ./scripts/install-test-deps.sh`);
  const registry = await startRegistry();
  const work = await mkdtemp(join(tmpdir(), "nodewasi-bench-"));
  try {
    const built = buildImage({ module: bigModule("bench", SIZE), format: "image" });
    await pushBuilt(registry.host, "bench/big:latest", built);
    const ref = `${registry.host}/bench/big:latest`;
    let target = "";
    const fresh = async () => {
      if (target) await rm(target, { recursive: true, force: true });
      target = await mkdtemp(join(work, "run-"));
    };
    process.stdout.write(
      `pull benchmark: ${SIZE / 1048576} MiB module, gzip tar layer, registry ${registry.host}\n\n`,
    );
    await compare(
      "pull of a 64 MiB wasm image from a local registry (wall time, fresh store each run)",
      runs,
      {
        name: "nodewasi pull",
        prepare: fresh,
        run: () => timeCommand(process.execPath, [BIN, "pull", "--quiet", "--root", target, ref]),
      },
      {
        name: "skopeo copy",
        prepare: fresh,
        run: () =>
          timeCommand("skopeo", [
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            `docker://${ref}`,
            `oci:${target}:latest`,
          ]),
      },
    );
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}
