/**
 * `npm run bench -- files [--runs N]`: what an image's file count costs a task (issue 10 item 11). Wall time of
 * `nodewasi run --rm` (a fresh CLI process, the daemon already running, both images stored) of the hello
 * module packaged with 30,000 small files against the same module packaged with one, alternating, after one
 * untimed run of each (the daemon loads its image code at its first run). Every task gets its own writable
 * view of its image's rootfs, so this ratio is the price of that view. Goal: <= 1.5. The title says which view
 * was measured: an overlay (as root), whose cost does not grow with the image, or a copy (not root, or no
 * overlayfs: src/shim/task-rootfs.ts), whose cost does.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, startShim } from "../test/harness/shim.js";
import { compare, timeCommand } from "./measure.js";

const BIN = join(REPO_ROOT, "bin", "nodewasi");
const MODULE = join(REPO_ROOT, "examples", "hello", "hello.wasm");
const MANY = 30_000;
/** Files per directory: 300 directories of 100 files, like a real tree rather than one huge folder. */
const PER_DIR = 100;

/** Writes `count` small files under `dir` (in folders of PER_DIR). */
async function makeFiles(dir: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `d${Math.floor(i / PER_DIR)}`);
    if (i % PER_DIR === 0) await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `f${i}.txt`), `file ${i}\n`);
  }
}

export async function benchFiles(runs: number): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "nodewasi-bench-files-"));
  const shim = await startShim({ debug: false, root: join(work, "root") });
  try {
    const one = join(work, "one");
    const many = join(work, "many");
    await makeFiles(one, 1);
    await makeFiles(many, MANY);
    const build = (tag: string, dir: string) =>
      execFileSync(
        process.execPath,
        [BIN, "--root", shim.root, "build", "-q", MODULE, "-t", tag, "--file", `${dir}:/data`],
        { stdio: ["ignore", "ignore", "inherit"] },
      );
    build("files:1", one);
    build(`files:${MANY}`, many);
    const run = (tag: string) => () =>
      timeCommand(process.execPath, [
        BIN,
        "--root",
        shim.root,
        "--address",
        shim.address,
        "run",
        "--rm",
        "--pull",
        "never",
        tag,
      ]);
    await run(`files:${MANY}`)();
    await run("files:1")();
    // The daemon warns once when overlays fail as root; not root, it copies without trying.
    const view =
      process.getuid?.() !== 0 || shim.stderr().includes("overlayfs is not usable") ? "copy" : "overlay";
    await compare(
      `nodewasi run --rm of hello with ${MANY} files in its image against hello with 1 (daemon running, images stored, task rootfs: ${view})`,
      runs,
      { name: `${MANY} files`, run: run(`files:${MANY}`) },
      { name: "1 file", run: run("files:1") },
    );
  } finally {
    await shim.stop();
    await rm(work, { recursive: true, force: true });
  }
}
