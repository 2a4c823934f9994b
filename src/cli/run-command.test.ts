/**
 * `nodewasi run` as users run it: the real bin/nodewasi against a real shim daemon, images from an OCI layout
 * of the example modules. Output, exit statuses, args, env, stdin and signals are the guest's.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type CliWork,
  cli,
  finished,
  HELLO,
  makeWork,
  removeWork,
  spawnCli,
  stopShim,
  until,
} from "../../test/harness/index.js";

describe("nodewasi run", () => {
  let work: CliWork;

  before(async () => {
    work = await makeWork([
      "exit-code",
      "echo-args",
      "print-env",
      "cat-stdin",
      "busy-loop",
      "write-bytes",
      "sleep-ms",
    ]);
  });
  after(() => removeWork(work));

  it("runs the hello example: its output on stdout, progress on stderr, exit 0", async () => {
    const r = await cli(work, ["run", "--rm", HELLO]);
    assert.equal(r.stdout, "Hello from nodewasi!\n", r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /extracted module sha256:/);
  });

  it("exits with the guest's exit status", async () => {
    const r = await cli(work, ["run", "--rm", work.image("exit-code"), "42"]);
    assert.equal(r.code, 42, r.stderr);
    assert.equal((await cli(work, ["run", "--rm", work.image("exit-code"), "256"])).code, 0);
    assert.equal((await cli(work, ["run", "--rm", work.image("exit-code"), "-1"])).code, 255);
  });

  it("gives the guest every argument after REF, options included", async () => {
    const r = await cli(work, ["run", "--rm", work.image("echo-args"), "a b", "-x", "--help", "-e", "--rm"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "/echo-args.wasm\na b\n-x\n--help\n-e\n--rm\n");
  });

  it("sets -e variables, and copies a bare -e KEY from its own environment", async () => {
    work.env.FROM_HOST = "host value";
    try {
      const r = await cli(work, [
        "run",
        "--rm",
        "-e",
        "GREETING=hi there",
        "-e",
        "FROM_HOST",
        work.image("print-env"),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split("\n");
      assert.ok(lines.includes("GREETING=hi there"), r.stdout);
      assert.ok(lines.includes("FROM_HOST=host value"), r.stdout);
      assert.ok(
        !lines.some((l) => l.startsWith("NODEWASI_ROOT=")),
        "the host's environment does not leak in",
      );
    } finally {
      delete work.env.FROM_HOST;
    }
  });

  it("with -i, copies stdin to the guest until EOF", async () => {
    const input = `${"line of input\n".repeat(5000)}end\n`;
    const r = await cli(work, ["run", "--rm", "-i", work.image("cat-stdin")], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, input);
  });

  it("without -i, the guest's stdin is empty", async () => {
    const r = await cli(work, ["run", "--rm", work.image("cat-stdin")], { input: "not for the guest" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
  });

  it("forwards SIGINT as Kill: a busy guest ends and run exits 130", async () => {
    const child = spawnCli(work, ["run", "--rm", work.image("busy-loop")]);
    const done = finished(child);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d));
    await until("the guest to spin", () => out.includes("spinning"));
    child.kill("SIGINT");
    // The guest never ends by itself: 130 is the Kill. How fast is for the benchmarks to say, not a busy machine.
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
  });

  it("run --rm REF | head -c 100: the guest meets EPIPE, and run still exits with its status and removes it", async () => {
    // write-bytes exits 3 when a write fails; the pipe's reader (this test, as head would) leaves after 100 bytes.
    const io = join(work.dir, "run", "io");
    const ioFolders = () => (existsSync(io) ? readdirSync(io) : []);
    const before = new Set(ioFolders());
    const child = spawnCli(work, ["run", "--rm", "--name", "piped", work.image("write-bytes"), "100000000"]);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    let read = 0;
    await new Promise<void>((resolve) => {
      child.stdout!.on("data", (d: Buffer) => {
        read += d.length;
        if (read >= 100) {
          child.stdout!.destroy(); // our end of the pipe closes, as when head exits
          resolve();
        }
      });
    });
    assert.equal(await exited, 3, stderr);
    assert.ok(
      !(await cli(work, ["ps", "-aq"])).stdout.split("\n").includes("piped"),
      "--rm removed the task",
    );
    assert.deepEqual(
      ioFolders().filter((d) => !before.has(d)),
      [],
      "no run-* FIFO folder is left",
    );
  });

  it("run --rm killed by SIGKILL: the task still removes itself when its guest exits, its name is free again", async () => {
    // Found probing issue 10: --rm was the command's own Delete, so a killed run left its task `stopped` (the
    // name taken until the daemon idled out) and its FIFO folder. The shim now removes it (auto_remove), as
    // dockerd does for docker run --rm.
    const io = join(work.dir, "run", "io");
    const ioFolders = () => (existsSync(io) ? readdirSync(io) : []);
    const before = new Set(ioFolders());
    const child = spawnCli(work, ["run", "--rm", "--name", "orphan", work.image("sleep-ms"), "1500"]);
    const exited = new Promise((r) => child.once("exit", r));
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d));
    await until("the guest to sleep", () => out.includes("sleeping"));
    const mine = ioFolders().filter((d) => !before.has(d));
    assert.equal(mine.length, 1, "the run made one FIFO folder");
    child.kill("SIGKILL");
    await exited;
    await until(
      "the task to remove itself",
      async () => !(await cli(work, ["ps", "-aq"])).stdout.split("\n").includes("orphan"),
    );
    const again = await cli(work, ["run", "--rm", "--name", "orphan", work.image("sleep-ms"), "0"]);
    assert.equal(again.code, 0, again.stderr);
    // The daemon removes the FIFO folder of a run whose command is dead when it stops (or the next one starts).
    await stopShim(work.address);
    assert.deepEqual(
      ioFolders().filter((d) => mine.includes(d)),
      [],
      "the killed run's FIFO folder is gone",
    );
  });

  it("--pull missing runs a stored image with no progress, and pulls again one whose module left the store", async () => {
    const image = work.image("exit-code");
    assert.equal((await cli(work, ["run", "--rm", image, "0"])).code, 0);
    const stored = await cli(work, ["run", "--rm", image, "7"]);
    assert.equal(stored.code, 7, stored.stderr);
    assert.equal(stored.stderr, "", "nothing to fetch, nothing shown");
    const oci = await import("../oci/index.js");
    const store = await oci.ContentStore.open(work.root);
    const record = await store.pullRecord((await store.resolve(oci.sourceName(image)))!);
    await rm(record!.module.path);
    const again = await cli(work, ["run", "--rm", "--pull", "missing", image, "8"]);
    assert.equal(again.code, 8, again.stderr);
    assert.match(again.stderr, /extracted module sha256:/);
  });

  it("--pull never on an image not in the store exits 3 and says what to do", async () => {
    const r = await cli(work, ["run", "--pull", "never", work.image("nothere")]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /not in the store and --pull is never/);
    assert.match(r.stderr, /hint: pull it first/);
    assert.equal(r.stdout, "");
  });

  it("a --mount of a missing host directory says so (exit 3), whatever the sandbox", async () => {
    const missing = `${work.dir}/no-such-dir`;
    const r = await cli(work, ["run", "--rm", "--mount", `${missing}:/data`, work.image("exit-code")]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`the host directory ${missing} for the guest's /data does not exist`));
    assert.doesNotMatch(r.stderr, /bwrap/);
  });

  it("refuses bad flags before contacting the shim (exit 2)", async () => {
    for (const args of [
      ["--mount", "/tmp:/data:ro"],
      ["--memory", "lots"],
      ["-d", "-i"],
      ["--name", "bad/name"],
      ["--log-opt", "max-size=1m"],
      ["-d", "--log-opt", "max-size=lots"],
      ["-d", "--log-opt", "max-file=0"],
      ["-d", "--log-opt", "compress=true"],
      ["-d", "--log-opt", "max-size"],
    ]) {
      const r = await cli(work, ["run", ...args, HELLO], { address: `${work.dir}/none/shim.sock` });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^nodewasi: /);
    }
  });

  it("--name follows containerd's rule for ids, and says so before any daemon starts", async () => {
    const address = `${work.dir}/names/shim.sock`;
    for (const [name, said] of [
      [
        "../evil",
        /--name "\.\.\/evil" is not a valid id: use letters and digits, with single \. _ or - between them, 76 characters at most/,
      ],
      ["a..b", /--name "a\.\.b" is not a valid id/],
      ["-x", /--name "-x" is not a valid id/],
      ["x".repeat(10_000), /--name "x{24}\.\.\." is 10000 characters long; at most 76 are allowed/],
    ] as const) {
      const r = await cli(work, ["run", "--name", name, HELLO], { address });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, said);
      assert.ok(r.stderr.length < 400, "a long name is not printed whole");
    }
    assert.ok(!existsSync(address), "no daemon was started");
  });
});
