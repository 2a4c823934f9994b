/**
 * Issue 10, items 4, 5, 6, 8 and 10 (store half): wedged locks and store corruption, through the real
 * `nodewasi` command (and its shim daemon where `run` needs one). Every damage is done the way it happens:
 * a lock file naming a live but unrelated pid, a byte flipped in place, index.json cut short, a pull killed
 * with SIGKILL in the middle of its unpack.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sha256 } from "../src/internal/index.js";
import { buildImage } from "../src/oci/build/build.js";
import { writeLayout } from "../src/oci/build/layout-writer.js";
import { hostileFixtures } from "./harness/hostile-fixtures.js";
import { stopShim } from "./harness/index.js";
import { bigModule, helloModule } from "./harness/modules.js";
import { toolSkipReason } from "./harness/registry.js";
import { recordFigures } from "./harness/reliability.js";
import { REPO_ROOT } from "./harness/shim.js";
import { flipByte } from "./harness/store-check.js";

const BIN = join(REPO_ROOT, "bin", "nodewasi");
const LOCK_HOLDER = join(REPO_ROOT, "dist", "test", "harness", "lock-holder.js");
const skip = toolSkipReason("wat2wasm");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command had to be killed after `timeoutMs` (it hung). */
  hung: boolean;
}

let work: string;
let layout: string;
let n = 0;
const children: ChildProcess[] = [];

/** A fresh state root and shim socket for one test. */
function freshRoot() {
  const dir = join(work, `t${++n}`);
  mkdirSync(dir, { recursive: true });
  return { root: join(dir, "root"), address: join(dir, "run", "shim.sock") };
}

/** Starts `nodewasi --root ROOT [--address A] ARGS`; `timeoutMs` bounds it (a hang is killed and reported). */
function start(
  root: string,
  args: string[],
  opts: { env?: Record<string, string>; address?: string; timeoutMs?: number } = {},
): { child: ChildProcess; done: Promise<Run>; stderr: () => string } {
  const child = spawn(
    process.execPath,
    [BIN, "--root", root, ...(opts.address ? ["--address", opts.address] : []), ...args],
    { env: { ...process.env, NODEWASI_IDLE_TIMEOUT: "3", ...opts.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, opts.timeoutMs ?? 60_000);
  const done = new Promise<Run>((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, hung });
    }),
  );
  return { child, done, stderr: () => stderr };
}

const nodewasi = (root: string, args: string[], opts: Parameters<typeof start>[2] = {}) =>
  start(root, args, opts).done;

/** Polls `check` every 10 ms until it holds; fails naming `what` after `ms`. */
async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A process holding the lock at `path` (test/harness/lock-holder.ts) until its stdin ends. */
async function lockHolder(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [LOCK_HOLDER, path], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`lock holder exited ${code}`)));
  });
  return child;
}

/** The pid of a process that has exited. */
const deadPid = () =>
  Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString());

/** The digest of the hello image's one layer, as the layout names it. */
function helloLayer(): string {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations["org.opencontainers.image.ref.name"] === "hello")!;
  const manifest = JSON.parse(readFileSync(join(layout, "blobs", "sha256", entry.digest.slice(7)), "utf8"));
  return manifest.layers[0].digest as string;
}

const HELLO = "hello from the store test";
const image = (tag: string) => `oci:${layout}:${tag}`;
const modulePath = (root: string) => {
  const dir = join(root, "modules", "sha256");
  return join(dir, readdirSync(dir)[0]!);
};

describe("Issue 10: wedged locks and store corruption", { skip }, () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nodewasi-store-rel-"));
    layout = join(work, "layout");
    await writeLayout(layout, [
      {
        image: buildImage({ module: helloModule(HELLO), format: "image", entrypoint: "/hello.wasm" }),
        tag: "hello",
      },
      {
        // Big enough that its unpack takes a while: a pull can be killed in the middle of it.
        image: buildImage({
          module: bigModule("big", 48 * 1024 * 1024),
          format: "image",
          entrypoint: "/big.wasm",
          compression: "none",
        }),
        tag: "big",
      },
    ]);
  });
  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await rm(work, { recursive: true, force: true });
  });

  it("a two-day-old lock naming a live, unrelated pid (pid reuse) wedges neither pull, rmi nor prune", async (t) => {
    const { root } = freshRoot();
    assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
    const unrelated = spawn("sleep", ["600"], { stdio: "ignore" });
    children.push(unrelated);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const plant = () => {
      // The format nodewasi wrote before this change, and the lock of a download of the layer.
      for (const path of [
        join(root, "index.json.lock"),
        join(root, "ingest", helloLayer().slice(7), "lock"),
      ]) {
        mkdirSync(join(path, ".."), { recursive: true });
        writeFileSync(path, `${unrelated.pid} 0123456789abcdef\n`);
        utimesSync(path, twoDaysAgo, twoDaysAgo);
      }
    };
    const runs: Record<string, Run> = {};
    for (const args of [["rmi", image("hello")], ["prune"], ["pull", "-q", image("hello")]]) {
      plant();
      const r = await nodewasi(root, args, { timeoutMs: 60_000 });
      runs[args[0]!] = r;
      assert.equal(r.hung, false, `${args[0]} hung on the stale lock`);
      assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
    }
    assert.equal(unrelated.exitCode, null, "the unrelated process was left alone");
    recordFigures(t, { "commands on a reused pid's lock": 3, hung: 0, "unrelated process killed": false });
  });

  it("a command waiting for a live holder says who holds it and since when, then goes on", async () => {
    const { root } = freshRoot();
    assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
    const holder = await lockHolder(join(root, "index.json.lock"));
    const rmi = start(root, ["rmi", image("hello")]);
    await until("the waiting line", () => /waiting for/.test(rmi.stderr()));
    assert.match(
      rmi.stderr(),
      new RegExp(
        `^nodewasi: waiting for the list of images of ${root}: locked by pid ${holder.pid} \\(.*lock-holder\\.js.*\\) since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(\\d+ s ago\\)$`,
        "m",
      ),
    );
    holder.stdin!.end();
    const r = await rmi.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^untagged /);
  });

  it("a holder that stopped renewing fails the wait naming its pid; NODEWASI_LOCK_TIMEOUT bounds any wait", async (t) => {
    const { root } = freshRoot();
    assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
    const lock = join(root, "index.json.lock");
    const holder = await lockHolder(lock);
    const bounded = await nodewasi(root, ["prune"], { env: { NODEWASI_LOCK_TIMEOUT: "1" } });
    assert.equal(bounded.code, 5, bounded.stderr);
    assert.match(
      bounded.stderr,
      new RegExp(
        `^nodewasi: gave up after 1 s waiting for the list of images of ${root}, locked by pid ${holder.pid} `,
        "m",
      ),
    );
    holder.kill("SIGSTOP");
    const minutesAgo = new Date(Date.now() - 120_000);
    utimesSync(lock, minutesAgo, minutesAgo); // what two minutes of a stopped holder look like
    const stuck = await nodewasi(root, ["prune"], { timeoutMs: 60_000 });
    holder.kill("SIGCONT");
    holder.stdin!.end();
    assert.equal(stuck.hung, false);
    assert.equal(stuck.code, 1, stuck.stderr);
    assert.match(
      stuck.stderr,
      new RegExp(`locked by pid ${holder.pid} .* has not renewed the lock for \\d+ s: it is stopped or hung`),
    );
    assert.match(stuck.stderr, new RegExp(`^hint: end that process \\(kill ${holder.pid}\\)`, "m"));
    const bad = await nodewasi(root, ["prune"], { env: { NODEWASI_LOCK_TIMEOUT: "soon" } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /NODEWASI_LOCK_TIMEOUT="soon" is no number of seconds/);
    recordFigures(t, {
      "stopped holder": "refused, naming its pid",
      "NODEWASI_LOCK_TIMEOUT=1": "exit 5 after 1 s",
    });
  });

  it("a pull waiting for another process's download of a layer says so, also through a shim (run)", async () => {
    const { root, address } = freshRoot();
    const layer = helloLayer();
    const holder = await lockHolder(join(root, "ingest", layer.slice(7), "lock"));
    const run = start(root, ["run", "--rm", image("hello")], { address });
    try {
      await until("the waiting line", () => /waiting for the download/.test(run.stderr()));
      assert.match(
        run.stderr(),
        new RegExp(
          `waiting for the download of ${layer} into ${root}: locked by pid ${holder.pid} \\(.*lock-holder`,
        ),
      );
      holder.stdin!.end();
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${HELLO}\n`);
    } finally {
      await stopShim(address);
    }
  });

  it("a flipped byte in the stored module: run --pull never refuses it, a pull repairs it, and it runs", async (t) => {
    const { root, address } = freshRoot();
    try {
      assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
      const module = modulePath(root);
      const good = readFileSync(module);
      // One byte of the greeting in the module's data segment (the issue saw "Hello" print as "Jello").
      const at = good.indexOf(Buffer.from(HELLO));
      flipByte(module, at);
      const refused = await nodewasi(root, ["run", "--rm", "--pull", "never", image("hello")], { address });
      assert.equal(refused.code, 6, refused.stderr);
      assert.equal(refused.stdout, "", "nothing of the changed module ran");
      assert.match(
        refused.stderr,
        new RegExp(
          `^nodewasi: module ${module}: its bytes hash to sha256:[0-9a-f]{64}, not sha256:${module.slice(-64)}: it was changed or damaged after it was stored; refusing to run it$`,
          "m",
        ),
      );
      assert.match(
        refused.stderr,
        new RegExp(
          `^hint: the store's copy of ${image("hello").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is damaged: \`nodewasi pull`,
          "m",
        ),
      );
      const pull = await nodewasi(root, ["pull", image("hello")]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.match(
        pull.stderr,
        new RegExp(
          `^repaired ${module}: its bytes hash to sha256:[0-9a-f]{64}; removed with the rootfs it came from; unpacking it again$`,
          "m",
        ),
      );
      assert.deepEqual(readFileSync(module), good);
      const ran = await nodewasi(root, ["run", "--rm", "--pull", "never", image("hello")], { address });
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, `${HELLO}\n`);
      recordFigures(t, {
        "changed module run": "refused, exit 6",
        pull: "repaired it",
        "after the pull": "runs",
      });
    } finally {
      await stopShim(address);
    }
  });

  it("a flipped byte in a layer blob or the manifest blob: the second pull repairs it and check finds nothing", async () => {
    const { root } = freshRoot();
    assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
    const blobs = join(root, "blobs", "sha256");
    const damaged: string[] = [];
    for (const hex of readdirSync(blobs)) {
      const path = join(blobs, hex);
      const bytes = readFileSync(path);
      if (bytes[0] === 0x1f || bytes.includes('"layers"')) {
        flipByte(path, 20);
        damaged.push(path);
      }
    }
    assert.equal(damaged.length, 3, 'the layer, the manifest and the config (its rootfs.type is "layers")');
    const check = await nodewasi(root, ["check"]);
    assert.equal(check.code, 6);
    const pull = await nodewasi(root, ["pull", image("hello")]);
    assert.equal(pull.code, 0, pull.stderr);
    for (const path of damaged) {
      assert.equal(sha256(readFileSync(path)).slice(7), path.slice(-64), `${path} is sound again`);
    }
    const after = await nodewasi(root, ["check"]);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.match(after.stdout, /: no problems$/m);
  });

  it("nodewasi check reports damage (exit 6, --json), and --repair repairs it without the source", async (t) => {
    const { root } = freshRoot();
    assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
    const module = modulePath(root);
    flipByte(module, 3000);
    const json = await nodewasi(root, ["check", "--json"]);
    assert.equal(json.code, 6);
    const report = JSON.parse(json.stdout) as {
      problems: { kind: string; path: string; repaired: boolean }[];
    };
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.repaired]),
      [
        ["module", false],
        ["record", false],
      ],
    );
    assert.equal(report.problems[0]!.path, module);
    assert.match(json.stderr, /^hint: run `nodewasi --root .* check --repair`/m);
    // The source layout is gone: the repair works from the store's own blobs.
    const moved = `${layout}.away`;
    spawnSync("mv", [layout, moved]);
    try {
      const repair = await nodewasi(root, ["check", "--repair"]);
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
      assert.match(
        repair.stdout,
        /^image +oci:.*: its module or rootfs was removed as damaged; repaired: extracted it again from the stored blobs$/m,
      );
      assert.match(repair.stdout, /3 problems, 3 repaired$/m);
    } finally {
      spawnSync("mv", [moved, layout]);
    }
    assert.equal(sha256(readFileSync(module)).slice(7), module.slice(-64));
    assert.equal((await nodewasi(root, ["check"])).code, 0);
    recordFigures(t, { "problems found": 2, "repaired without the source": 3 });
  });

  it("a truncated index.json: images, rmi, prune, pull and run say what is wrong (exit 6); check --repair restores it", async (t) => {
    const { root, address } = freshRoot();
    assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
    const index = join(root, "index.json");
    const good = readFileSync(index);
    writeFileSync(index, good.subarray(0, 100));
    const said = new RegExp(
      `^nodewasi: the store's list of images ${index} is damaged \\(it is not valid JSON: .* \\(it looks cut short: no final newline\\)\\); run \`nodewasi --root ${root} check --repair\` to rebuild it`,
      "m",
    );
    try {
      for (const args of [
        ["images"],
        ["rmi", image("hello")],
        ["prune"],
        ["pull", image("hello")],
        ["run", "--rm", "--pull", "never", image("hello")],
      ]) {
        const r = await nodewasi(root, args, { address });
        assert.equal(r.code, 6, `${args[0]}: ${r.stderr}`);
        assert.match(r.stderr, said, args[0]);
        assert.doesNotMatch(r.stderr, /content did not match its digest|not in the store/, args[0]);
      }
    } finally {
      await stopShim(address);
    }
    assert.ok(existsSync(modulePath(root)), "prune deleted nothing");
    const repair = await nodewasi(root, ["check", "--repair"]);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.match(
      repair.stdout,
      /^index +.*index\.json: .*; repaired: rebuilt with 1 name from index\.json\.bak$/m,
    );
    const images = await nodewasi(root, ["images", "-q"]);
    assert.equal(images.stdout, `${image("hello")}\n`);
    recordFigures(t, { "commands refusing the damaged index, exit 6": 5, "rebuilt from": "index.json.bak" });
  });

  it("index.json deleted: prune refuses and deletes nothing; check --repair rebuilds the names from the pull records", async () => {
    const { root } = freshRoot();
    assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
    unlinkSync(join(root, "index.json"));
    unlinkSync(join(root, "index.json.bak"));
    const prune = await nodewasi(root, ["prune"]);
    assert.equal(prune.code, 6, prune.stderr);
    assert.match(prune.stderr, /index\.json is damaged \(it is missing\)/);
    assert.ok(existsSync(modulePath(root)), "prune deleted nothing");
    const repair = await nodewasi(root, ["check", "--repair"]);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.match(repair.stdout, /rebuilt with 1 name from 1 pull record$/m);
    assert.equal((await nodewasi(root, ["images", "-q"])).stdout, `${image("hello")}\n`);
  });

  it("a pull killed with SIGKILL during its unpack leaves a temporary rootfs; the next pull removes it, never a live pull's", async (t) => {
    const { root } = freshRoot();
    const rootfs = join(root, "rootfs");
    const killed = start(root, ["pull", "-q", image("big")]);
    const temporaries = () =>
      existsSync(rootfs) ? readdirSync(rootfs).filter((f) => f.includes(".tmp-")) : [];
    await until("the unpack to start", () => temporaries().length > 0);
    killed.child.kill("SIGKILL");
    await killed.done;
    const left = temporaries();
    assert.equal(left.length, 1, "the killed pull left its temporary rootfs");
    assert.match(left[0]!, new RegExp(`\\.tmp-${killed.child.pid}-`));
    // A temporary of a live process (this test) stays.
    const live = join(rootfs, `${"cd".repeat(32)}.tmp-${process.pid}-1`);
    mkdirSync(live);
    const again = await nodewasi(root, ["pull", image("hello")]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(
        `^repaired ${join(rootfs, left[0]!)}: temporary folder of pid ${killed.child.pid}, which is gone; removed$`,
        "m",
      ),
    );
    assert.deepEqual(temporaries(), [live.slice(rootfs.length + 1)]);
    rmSync(live, { recursive: true });
    recordFigures(t, {
      "killed pull's temporary rootfs": "removed by the next pull",
      "live temporary": "kept",
    });
  });

  it("a killed process's ingest lock and partial download: check reports them, check --repair removes them", async () => {
    const { root } = freshRoot();
    assert.equal((await nodewasi(root, ["pull", "-q", image("hello")])).code, 0);
    const ingest = join(root, "ingest", "ef".repeat(32));
    mkdirSync(ingest, { recursive: true });
    writeFileSync(join(ingest, "lock"), `${deadPid()} {"token":"t","start":1,"since":1}\n`);
    writeFileSync(join(ingest, "data"), Buffer.alloc(4096));
    const check = await nodewasi(root, ["check"]);
    assert.equal(check.code, 6);
    assert.match(
      check.stdout,
      /^leftover .*ingest\/(?:ef){32}\/lock: lock held by pid \d+, which is gone; to repair: remove it$/m,
    );
    const repair = await nodewasi(root, ["check", "--repair"]);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.equal(existsSync(join(ingest, "lock")), false);
    const prune = await nodewasi(root, ["prune", "--json"]);
    assert.equal(JSON.parse(prune.stdout).removed, 1, "the partial download goes with prune");
    assert.equal(existsSync(ingest), false);
  });

  it("hostile-layer refusals say what was refused and why, with no digest hint and no advice to pull again", async (t) => {
    const { root } = freshRoot();
    const sentinel = join(work, "sentinel");
    mkdirSync(sentinel, { recursive: true });
    const hostile = join(work, "hostile");
    const fixtures = await hostileFixtures(sentinel);
    await writeLayout(
      hostile,
      fixtures.map((f) => ({ image: f.built, tag: f.repoTag.replace(/[/:]/g, "-") })),
    );
    let refused = 0;
    for (const f of fixtures) {
      const r = await nodewasi(root, ["pull", `oci:${hostile}:${f.repoTag.replace(/[/:]/g, "-")}`]);
      assert.equal(r.code, 6, `${f.repoTag}: ${r.stderr}`);
      assert.match(r.stderr, f.message, f.repoTag);
      assert.doesNotMatch(
        r.stderr,
        /did not match its digest|pull (it )?again|raise the unpack limits/,
        f.repoTag,
      );
      refused++;
    }
    recordFigures(t, { "hostile layers refused": refused, "told to pull again": 0 });
  });
});
