/**
 * `npm run bench -- pull`: `nodewasi pull` of a 64 MiB wasm image from a local registry against
 * `skopeo copy docker://... oci:...` of the same image, each into an empty store every run. skopeo only copies
 * blobs; nodewasi also unpacks the layer and extracts the module, so it does strictly more work.
 * Target: ratio <= 1.0.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildImage } from "../src/oci/build/build.js";
import { pushBuilt } from "../test/harness/push.js";
import { registrySkipReason, startRegistry, toolSkipReason } from "../test/harness/registry.js";
import { compare, timeCommand } from "./measure.js";

const SIZE = 64 * 1024 * 1024;
const BIN = resolve(fileURLToPath(import.meta.url), "../../../bin/nodewasi");

/** A valid wasm module carrying `size` random (incompressible) bytes in a custom section. */
function bigModule(size: number): Buffer {
  const name = Buffer.from("bench");
  const payload = Buffer.concat([Buffer.from([name.length]), name, randomBytes(size)]);
  const leb: number[] = [];
  for (let n = payload.length; ; ) {
    const byte = n & 0x7f;
    n >>>= 7;
    leb.push(n ? byte | 0x80 : byte);
    if (!n) break;
  }
  return Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0]), Buffer.from(leb), payload]);
}

export async function benchPull(runs: number): Promise<void> {
  const skip = registrySkipReason() ?? toolSkipReason("skopeo");
  if (skip) throw new Error(`cannot run the pull benchmark: ${skip}; run ./scripts/install-test-deps.sh`);
  const registry = await startRegistry();
  const work = await mkdtemp(join(tmpdir(), "nodewasi-bench-"));
  try {
    const built = buildImage({ module: bigModule(SIZE), format: "image" });
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
