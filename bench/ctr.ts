/**
 * `npm run bench -- ctr [--runs N]` (default 10 runs): `ctr run --rm` of the hello wasm image through
 * nodewasi (`io.containerd.nodewasi.v1`) against `ctr run --rm` of a native static hello (gcc -static) through
 * `io.containerd.runc.v2`, on the same private containerd (test/harness/containerd.ts), alternating runs,
 * a fresh container id each run. Both images are built with src/oci and imported with `ctr image import`.
 * Target: ratio <= 1.0. After the table, the median of each phase of a run per contender, read from
 * containerd's debug log (ctr-breakdown.ts), says where the difference goes. nodewasi's namespace daemon
 * stays up between runs (its idle timeout, 30 s), as a user's would: a run that finds it up logs no "serving"
 * line, so its shim start is counted in "Create".
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, writeLayoutArchive } from "../src/oci/index.js";
import {
  containerdUnavailable,
  type PrivateContainerd,
  REPO_DIR,
  SHIM_RUNTIME,
  startContainerd,
} from "../test/harness/containerd.js";
import { breakdown, PHASES, type Phase } from "./ctr-breakdown.js";
import { compare, median, timeCommand } from "./measure.js";

const DEFAULT_RUNS = 10;
const IMAGE = "nodewasi.bench/ctr";
const RUNC_RUNTIME = "io.containerd.runc.v2";
const HELLO_C = '#include <stdio.h>\nint main(void) { puts("Hello from runc!"); return 0; }\n';

/** A static ELF printing "Hello from runc!", compiled with gcc -static (musl-gcc as fallback). */
async function nativeHello(dir: string): Promise<Buffer> {
  const src = join(dir, "hello.c");
  const out = join(dir, "hello");
  await writeFile(src, HELLO_C);
  const errors: string[] = [];
  for (const cc of ["gcc", "musl-gcc"]) {
    try {
      execFileSync(cc, ["-static", "-O2", "-o", out, src], { stdio: ["ignore", "ignore", "pipe"] });
      return await readFile(out);
    } catch (err) {
      errors.push(`${cc}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(`cannot build a static native hello: ${errors.join("; ")}`);
}

/** An OCI archive holding `wasm` (hello.wasm, wasip1/wasm) and `native` (static ELF, linux/amd64). */
async function imageArchive(dir: string): Promise<string> {
  const archive = join(dir, "images.tar");
  await writeLayoutArchive(archive, [
    {
      image: buildImage({
        module: await readFile(join(REPO_DIR, "examples/hello/hello.wasm")),
        format: "image",
        platform: { os: "wasip1", architecture: "wasm" },
        entrypoint: "/hello.wasm",
        compression: "none",
      }),
      tag: "wasm",
    },
    {
      // buildImage does not validate the module bytes; the entrypoint goes in the layer with mode 0755.
      image: buildImage({
        module: await nativeHello(dir),
        format: "image",
        platform: { os: "linux", architecture: "amd64" },
        entrypoint: "/hello",
        compression: "none",
      }),
      tag: "native",
    },
  ]);
  return archive;
}

export async function benchCtr(runsArg: number): Promise<void> {
  // bench/index.ts defaults to 5 runs for every bench; this one defaults to 10 unless --runs is given.
  const runs = process.argv.includes("--runs") ? runsArg : DEFAULT_RUNS;
  const skip = containerdUnavailable();
  if (skip) throw new Error(`cannot run the ctr benchmark: ${skip}`);
  try {
    execFileSync("sh", ["-c", "command -v runc"], { stdio: "ignore" });
  } catch {
    throw new Error("cannot run the ctr benchmark: runc is not on PATH (Debian package runc)");
  }
  const work = await mkdtemp(join(tmpdir(), "nodewasi-bench-ctr-"));
  let ctd: PrivateContainerd | undefined;
  try {
    const archive = await imageArchive(work);
    // The shim's own idle timeout (30 s), not the tests' 2 s: a daemon left up between runs is what a user gets.
    ctd = await startContainerd("bench", { shimEnv: { NODEWASI_SHIM_IDLE_TIMEOUT: "" } });
    const c = ctd;
    const imported = await c.ctr(["image", "import", "--base-name", IMAGE, "--all-platforms", archive]);
    if (imported.code !== 0) throw new Error(`ctr image import failed: ${imported.stderr}`);

    let seq = 0;
    /** `ctr run` arguments (after `--address A -n NS`) for a fresh container of `tag`. */
    const args = (runtime: string, platform: string, tag: string) => [
      "run",
      "--rm",
      "--fifo-dir",
      join(c.dir, "fifo"),
      "--runtime",
      runtime,
      "--platform",
      platform,
      `${IMAGE}:${tag}`,
      `bench-${tag}-${++seq}`,
    ];
    const wasm = () => args(SHIM_RUNTIME, "wasip1/wasm", "wasm");
    const native = () => args(RUNC_RUNTIME, "linux/amd64", "native");

    // One untimed run of each, checking the output (also warms the snapshots and page cache).
    for (const [argv, want] of [
      [wasm(), "Hello from nodewasi!\n"],
      [native(), "Hello from runc!\n"],
    ] as const) {
      const r = await c.ctr(argv);
      if (r.code !== 0 || r.stdout !== want) {
        throw new Error(
          `ctr ${argv.join(" ")}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${r.stderr}\n` +
            c.log().slice(-3000),
        );
      }
    }

    process.stdout.write(
      `ctr benchmark: containerd ${c.address}, ${runs} alternating runs of ctr run --rm, fresh container id each\n\n`,
    );
    const phases = new Map<string, Partial<Record<Phase, number>>[]>();
    /** Times one ctr run and keeps its breakdown from the log lines containerd wrote meanwhile. */
    const time = async (name: string, argv: string[]) => {
      const mark = c.log().length;
      const start = Date.now();
      const ms = await timeCommand("ctr", ["--address", c.address, "-n", c.namespace, ...argv]);
      const end = Date.now();
      // containerd logs the snapshot's removal a moment after ctr's Delete returns; wait for the line.
      await new Promise((r) => setTimeout(r, 50));
      const list = phases.get(name) ?? [];
      list.push(breakdown(c.log().slice(mark), start, end));
      phases.set(name, list);
      return ms;
    };
    const contenders = [
      { name: "nodewasi (wasm)", run: () => time("nodewasi (wasm)", wasm()) },
      { name: "runc (native)", run: () => time("runc (native)", native()) },
    ] as const;
    await compare(
      "ctr run --rm of a hello image, same containerd (wall time of the ctr client)",
      runs,
      ...contenders,
    );
    printBreakdown(phases);
  } finally {
    await ctd?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** Median ms of each phase per contender ("-": the mark was not in the log, the time is in the next phase). */
function printBreakdown(phases: Map<string, Partial<Record<Phase, number>>[]>): void {
  const names = [...phases.keys()];
  const cell = (name: string, p: Phase) => {
    const xs = phases.get(name)!.flatMap((b) => (b[p] === undefined ? [] : [b[p]!]));
    return (xs.length ? median(xs).toFixed(0) : "-").padStart(16);
  };
  const rows = PHASES.map((p) => `${p.padEnd(24)}${names.map((n) => cell(n, p)).join("")}`);
  process.stdout.write(
    `\nwhere the time goes (median ms per phase, from containerd's debug log; ctr-breakdown.ts)\n` +
      `${"phase".padEnd(24)}${names.map((n) => n.padStart(16)).join("")}\n${rows.join("\n")}\n`,
  );
}
