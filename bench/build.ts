/**
 * `npm run bench -- build [--runs N]`: `nodewasi build` of a 50 MiB module into a fresh content store (the
 * default destination, as `nodewasi build app.wasm -t app:v1` writes it: the gzip tar layer, config and
 * manifest stored, then the rootfs and module made by the pull path) against `gzip -6` of the same file into
 * a file beside it, alternating. Each run starts from an empty store, as the build of a changed module does.
 * Issue 12 measured 7.5 s against 3 s (2.5x); the goal is <= 1.0.
 *
 * The module is the hello module with a 50 MiB custom section that is deterministic and mixed like a real
 * module's bytes (`mixedContent`, test/harness/modules.ts), so it gzips to about half its size and exercises
 * both the literal and the match paths of deflate.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bigModule, mixedContent } from "../test/harness/modules.js";
import { REPO_ROOT } from "../test/harness/shim.js";
import { compare, timeCommand } from "./measure.js";

const SIZE = 50 * 1024 * 1024;
const BIN = join(REPO_ROOT, "bin", "nodewasi");
export async function benchBuild(runs: number): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "nodewasi-bench-build-"));
  try {
    const module = join(work, "app.wasm");
    const root = join(work, "root");
    const gz = join(work, "app.wasm.gz");
    await writeFile(module, bigModule("bench", SIZE, mixedContent));
    process.stdout.write(
      `build benchmark: a ${SIZE / 1048576} MiB module (mixed content), into a fresh store each run\n\n`,
    );
    await compare(
      `nodewasi build of a ${SIZE / 1048576} MiB module into the store against gzip -6 of it into a file`,
      runs,
      {
        name: "nodewasi build",
        prepare: () => rm(root, { recursive: true, force: true }),
        run: () =>
          timeCommand(process.execPath, [BIN, "--root", root, "build", "-q", module, "-t", "app:v1"]),
      },
      {
        name: "gzip -6",
        prepare: () => rm(gz, { force: true }),
        run: () => timeCommand("sh", ["-c", `gzip -6 -c "${module}" > "${gz}"`]),
      },
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
