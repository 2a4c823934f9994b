/**
 * `npm run bench -- startup`: what a `nodewasi` command costs before it does any work, against Node's own
 * boot (`node -e 0`), alternating. `--help` loads only the command table; a pull of an image the store already
 * has loads the image code and stops once it sees the pull record. Module loading is most of both:
 * src/cli/main-loads.test.ts keeps grpc-js, protobuf and undici out of them.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../test/harness/shim.js";
import { compare, timeCommand } from "./measure.js";

const BIN = join(REPO_ROOT, "bin", "nodewasi");
const IMAGE = `oci:${join(REPO_ROOT, "examples", "images", "hello")}:latest`;

export async function benchStartup(runs: number): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "nodewasi-bench-"));
  const node = { name: "node -e 0", run: () => timeCommand(process.execPath, ["-e", "0"]) };
  try {
    await compare(
      "nodewasi --help against Node's boot (wall time)",
      runs,
      {
        name: "nodewasi --help",
        run: () => timeCommand(process.execPath, [BIN, "--help"]),
      },
      node,
    );
    execFileSync(process.execPath, [BIN, "--root", root, "pull", "-q", IMAGE], { stdio: "ignore" });
    await compare(
      "nodewasi pull of a stored image (nothing to fetch) against Node's boot",
      runs,
      {
        name: "nodewasi pull",
        run: () => timeCommand(process.execPath, [BIN, "--root", root, "pull", "-q", IMAGE]),
      },
      node,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
