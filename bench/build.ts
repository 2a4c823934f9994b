/**
 * `npm run bench -- build [--runs N]`: `nodewasi build` of a 50 MiB module into a fresh content store (the
 * default destination, as `nodewasi build app.wasm -t app:v1` writes it: the gzip tar layer, config and
 * manifest stored, then the rootfs and module made by the pull path) against `gzip -6` of the same file into
 * a file beside it, alternating. Each run starts from an empty store, as the build of a changed module does.
 * Issue 12 measured 7.5 s against 3 s (2.5x); the goal is <= 1.0.
 *
 * The module is the hello module with a 50 MiB custom section that is deterministic and mixed like a real
 * module's bytes: runs of pseudo-random bytes (code, compressed assets), of identifier text (names, strings)
 * and of zeros (zero-filled data), so it gzips to about half its size and exercises both the literal and the
 * match paths of deflate.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bigModule } from "../test/harness/modules.js";
import { REPO_ROOT } from "../test/harness/shim.js";
import { compare, timeCommand } from "./measure.js";

const SIZE = 50 * 1024 * 1024;
const BIN = join(REPO_ROOT, "bin", "nodewasi");
const WORDS = (
  "i32.const i32.load i32.store local.get local.set call br_if block loop end memory table global export " +
  "import func __wasm_call_ctors malloc free memcpy printf fd_write proc_exit args_get environ_get _start " +
  "std::vector std::string alloc::raw_vec core::fmt"
).split(" ");

/** Fills `out` with runs of 64 to 2111 bytes: 3 in 8 pseudo-random, 4 in 8 words, 1 in 8 zeros (xorshift32). */
function mixed(out: Buffer): void {
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let at = 0; at < out.length; ) {
    const kind = next() % 8;
    const end = Math.min(out.length, at + 64 + (next() % 2048));
    if (kind < 3) for (let i = at; i < end; i++) out[i] = next() & 0xff;
    else if (kind < 7) {
      for (let i = at; i < end; ) {
        const word = WORDS[next() % WORDS.length]!;
        i += out.write(`${word} `, i, Math.min(word.length + 1, end - i));
      }
    } else out.fill(0, at, end);
    at = end;
  }
}

export async function benchBuild(runs: number): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "nodewasi-bench-build-"));
  try {
    const module = join(work, "app.wasm");
    const root = join(work, "root");
    const gz = join(work, "app.wasm.gz");
    await writeFile(module, bigModule("bench", SIZE, mixed));
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
