/**
 * `npm run bench -- startup [--runs N]`: what a `nodewasi` command costs, against Node's own boot (`node -e 0`),
 * alternating, in three rows:
 *
 * - `--help` loads only the command table;
 * - a pull of an image the store already has loads the image code and stops once it sees the pull record;
 * - `run --rm` of a stored image with the daemon up (`nodewasi shim serve`, default isolation): the CLI's boot,
 *   its calls to the daemon, and the task's runner, which boots per task under bwrap.
 *
 * Module loading is most of the first two: the launchers run one bundled file per entry point
 * (scripts/bundle.mjs), and src/cli/main-loads.test.ts keeps grpc-js, protobuf and undici out of them.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, type ShimHandle, startShim } from "../test/harness/shim.js";
import { compare, timeCommand } from "./measure.js";

const BIN = join(REPO_ROOT, "bin", "nodewasi");
const IMAGE = `oci:${join(REPO_ROOT, "examples", "images", "hello")}:latest`;
const NODE = { name: "node -e 0", run: () => timeCommand(process.execPath, ["-e", "0"]) };

/** `nodewasi run --rm` of the hello image through the daemon `shim` (which has it stored) against `node -e 0`. */
export async function compareRunRm(shim: ShimHandle, runs: number): Promise<void> {
  const args = [BIN, "--root", shim.root, "--address", shim.address, "run", "--rm", IMAGE];
  await compare(
    `nodewasi run --rm ${IMAGE} (fresh CLI process, daemon running, image stored) against Node's boot`,
    runs,
    { name: "nodewasi run --rm", run: () => timeCommand(process.execPath, args) },
    NODE,
  );
}

export async function benchStartup(runs: number): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "nodewasi-bench-"));
  let shim: ShimHandle | undefined;
  try {
    await compare(
      "nodewasi --help against Node's boot (wall time)",
      runs,
      {
        name: "nodewasi --help",
        run: () => timeCommand(process.execPath, [BIN, "--help"]),
      },
      NODE,
    );
    execFileSync(process.execPath, [BIN, "--root", root, "pull", "-q", IMAGE], { stdio: "ignore" });
    await compare(
      "nodewasi pull of a stored image (nothing to fetch) against Node's boot",
      runs,
      {
        name: "nodewasi pull",
        run: () => timeCommand(process.execPath, [BIN, "--root", root, "pull", "-q", IMAGE]),
      },
      NODE,
    );
    shim = await startShim({ debug: false });
    // Untimed: the pull into the daemon's store.
    execFileSync(
      process.execPath,
      [BIN, "--root", shim.root, "--address", shim.address, "run", "--rm", IMAGE],
      {
        stdio: "ignore",
      },
    );
    await compareRunRm(shim, runs);
  } finally {
    await shim?.stop();
    await rm(root, { recursive: true, force: true });
  }
}
