/**
 * Security of a running guest and of the shim (issue 6, item 4), with bwrap and without it: the guest sees only
 * its preopens (`..`, absolute host paths and symlinks it makes itself are tried), none of the shim's
 * environment, and no other task's rootfs; the shim's socket is 0600 in a 0700 folder; and without a usable
 * bwrap the shim says so, once.
 *
 * Without bwrap one escape remains by design (DESIGN decision 8): a directory symlink that came with a bundle's
 * rootfs is followed on the host (src/wasi/sandbox.test.ts shows it; test/task-isolation.test.ts shows bwrap
 * holding it). Images cannot carry such links (the unpacker refuses them), and guests can neither make them nor
 * move an image's harmless `..` link to a shallower place where it would climb out (src/wasi/guest-symlinks.ts).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildImage, writeLayout } from "../src/oci/index.js";
import { recordFigures } from "./harness/reliability.js";
import { startShim } from "./harness/shim.js";
import {
  bwrapWorks,
  imageOptions,
  MODULES_DIR,
  runTask,
  type ShimSuite,
  startShimSuite,
  stopShimSuite,
  tempDir,
} from "./harness/task-kit.js";

const CANARY = "NODEWASI_RELIABILITY_CANARY";
const HOSTNAME = readFileSync("/etc/hostname", "utf8").trim();

/** The lines escape-probe printed for `read` steps that succeeded, other than those `allowed`. */
/**
 * Whether a probe read the host's /etc/hostname: a read whose content it is. Not the name anywhere in the
 * output: this machine is called "vm", which a random temp path held once.
 */
function leaksHostname(stdout: string): boolean {
  return HOSTNAME !== "" && stdout.split("\n").some((l) => l.endsWith(`: ok ${HOSTNAME}`));
}

function breaches(stdout: string, allowed: string[] = []): string[] {
  return stdout
    .split("\n")
    .filter((l) => /^read .*: ok/.test(l) && !allowed.some((a) => l.startsWith(`read ${a}: ok`)));
}

for (const isolation of ["none", "bwrap"] as const) {
  const skip = isolation === "bwrap" && !bwrapWorks() ? "bwrap cannot run here" : false;
  describe(`a guest's view, isolation ${isolation}`, { skip }, () => {
    let shim: ShimSuite["shim"];
    let task: ShimSuite["task"];
    let dir: string;
    let ref: ShimSuite["ref"];

    before(async () => {
      ({ shim, task, dir, ref } = await startShimSuite(["escape-probe", "print-env", "sleep-ms"], {
        isolation,
        env: { ...process.env, [CANARY]: "the shim's own secret" },
      }));
    });
    after(() => stopShimSuite({ shim, dir }));

    it(`isolation ${isolation}: the guest sees only its preopens (.., absolute paths, its own symlinks tried)`, async (t) => {
      const data = join(dir, "host", "data");
      await mkdir(data, { recursive: true });
      await writeFile(join(data, "note.txt"), "shared on purpose\n");
      await writeFile(join(dir, "host", "secret.txt"), "beside the mount, not in it\n");
      const attempts = [
        ["read", "/data/note.txt"],
        ["read", "/../etc/hostname"],
        ["read", "../../../../etc/hostname"],
        ["read", "/etc/hostname"],
        ["read", join(dir, "host", "secret.txt")],
        ["read", "/data/../secret.txt"],
        ["read", "/data/../../../../../etc/hostname"],
        ["symlink", "/etc", "/x"],
        ["read", "/x/hostname"],
        ["symlink", "../../../../../../../etc", "/y"],
        ["read", "/y/hostname"],
        ["symlink", "../secret.txt", "/data/s"],
        ["read", "/data/s"],
      ];
      const run = await runTask(task, `view-${isolation}`, ref("escape-probe"), {
        args: ["preopens", "list", "/", "list", "/..", ...attempts.flat()],
        mounts: [{ source: data, destination: "/data" }],
      });
      assert.equal(run.exitStatus, 0, run.stderr);
      const lines = run.stdout.trim().split("\n");
      assert.deepEqual(lines[0]?.split(" ").slice(1).sort(), ["/", "/data"], "preopens");
      assert.equal(lines[1], "list /: escape-probe.wasm", "the rootfs");
      assert.equal(lines[2], "list /..: escape-probe.wasm", "/.. is / again");
      assert.deepEqual(breaches(run.stdout, ["/data/note.txt"]), [], run.stdout);
      assert.match(run.stdout, /^read \/data\/note.txt: ok shared on purpose$/m, "the mount is readable");
      for (const l of lines.filter((l) => l.startsWith("symlink")))
        assert.match(l, /: (Operation not permitted|Not capable|No such file or directory)$/, l);
      assert.ok(!leaksHostname(run.stdout), `the host's hostname leaked: ${run.stdout}`);
      recordFigures(t, {
        "escape attempts": attempts.length - 1,
        "symlinks tried": attempts.filter((a) => a[0] === "symlink").length,
        "reads outside the preopens that succeeded": 0,
        "preopens seen": "/ and /data",
      });
    });

    it(`isolation ${isolation}: none of the shim's environment reaches the guest`, async (t) => {
      assert.ok(
        readFileSync(`/proc/${shim.pid}/environ`, "utf8").includes(CANARY),
        "the canary is in the shim",
      );
      const run = await runTask(task, `env-${isolation}`, ref("print-env"), { env: ["ONLY=this"] });
      assert.equal(run.exitStatus, 0);
      // Exactly the task's own environment: nothing of the host's (and no PWD: WASI has no chdir).
      assert.equal(run.stdout, "ONLY=this\n");
      recordFigures(t, {
        "canary in the shim's environment": "yes",
        "guest variables": "1 (ONLY=this)",
        "leaked variables": 0,
      });
    });

    /** Runs `body` while a task "other" sleeps beside, with the host path of the module in its rootfs. */
    async function besideOther(body: (theirs: string) => Promise<void>): Promise<void> {
      await task.create({ id: "other", options: imageOptions(ref("sleep-ms"), { args: ["60000"] }) });
      const waiting = task.wait({ id: "other" });
      await task.start({ id: "other" });
      try {
        const theirs = join(shim.tasksDir, "other", "rootfs", "sleep-ms.wasm");
        assert.ok(existsSync(theirs), `the other task's module is at ${theirs} on the host`);
        await body(theirs);
      } finally {
        await task.kill({ id: "other", signal: 9 });
        await waiting;
        await task.delete({ id: "other" });
      }
    }

    /**
     * Runs task `id` of `image` and returns its stdout, written in the shim's io folder as `nodewasi run` puts
     * it: under bwrap as root the guest then runs in a warm sandbox, which is given its own task's paths
     * alone (src/wasi/warm-slots.ts).
     */
    async function peek(id: string, image: string, args: string[]): Promise<string> {
      const io = join(dirname(shim.address), "io");
      await mkdir(io, { recursive: true });
      const out = join(io, `${id}.out`);
      await task.create({ id, stdout: `file://${out}`, options: imageOptions(image, { args }) });
      const exited = task.wait({ id });
      await task.start({ id });
      assert.equal((await exited).exitStatus, 0);
      await task.delete({ id });
      return readFile(out, "utf8");
    }

    it(`isolation ${isolation}: a guest cannot reach another task's rootfs`, async (t) => {
      await besideOther(async (theirs) => {
        const attempts = [
          ["read", theirs],
          ["read", "/../other/rootfs/sleep-ms.wasm"],
          ["read", "/../../other/rootfs/sleep-ms.wasm"],
          ["symlink", "../../other/rootfs", "/z"],
          ["read", "/z/sleep-ms.wasm"],
          ["symlink", dirname(theirs), "/w"],
          ["read", "/w/sleep-ms.wasm"],
        ];
        const stdout = await peek(`peek-${isolation}`, ref("escape-probe"), [
          "list",
          "/..",
          ...attempts.flat(),
        ]);
        assert.deepEqual(breaches(stdout), [], stdout);
        assert.match(stdout, /^list \/\.\.: escape-probe.wasm$/m);
        recordFigures(t, {
          "tasks running": 2,
          "attempts on the other rootfs": attempts.length,
          "that succeeded": 0,
        });
      });
    });

    it(`isolation ${isolation}: an image's \`..\` symlink cannot be moved or linked to climb out`, async (t) => {
      // 40 levels down, climbing 39: the rootfs itself, harmless there (the unpacker keeps it). Renamed or
      // hard-linked to the top it would climb to / (the host's without bwrap, the sandbox's with it), and with
      // its directory moved two levels up, to the tasks folder that holds the other task's rootfs.
      const deep = Array.from({ length: 40 }, (_, i) => `d${i}`).join("/");
      const rest = deep.split("/").slice(3).join("/");
      const image = buildImage({
        module: await readFile(join(MODULES_DIR, "escape-probe.wasm")),
        format: "image",
        entrypoint: "/escape-probe.wasm",
        // One link per attempt, so that each shows on its own what it reaches.
        files: ["mv", "ln", "dir"].map((name) => ({
          path: `${deep}/${name}`,
          type: "symlink" as const,
          linkname: `${"../".repeat(39)}..`,
        })),
      });
      const layout = join(dir, "deep-link");
      await writeLayout(layout, [{ image, tag: "v1" }]);
      await besideOther(async (theirs) => {
        const attempts = [
          ["rename", `/${deep}/mv`, "/up"],
          ["read", "/up/etc/hostname"],
          ["read", `/up${theirs}`],
          ["link", `/${deep}/ln`, "/hard"],
          ["read", "/hard/etc/hostname"],
          ["read", `/hard${theirs}`],
          ["rename", "/d0/d1/d2", "/d2"],
          ["read", `/d2/${rest}/dir/other/rootfs/sleep-ms.wasm`],
        ];
        const args = ["list", `/${deep}/dir`, ...attempts.flat()];
        const stdout = await peek(`moved-${isolation}`, `oci:${layout}:v1`, args);
        const inPlace = stdout.split("\n").find((l) => l.startsWith(`list /${deep}/dir: `));
        assert.deepEqual(inPlace?.split(": ")[1]?.split(" ").sort(), ["d0", "escape-probe.wasm"], stdout);
        assert.deepEqual(breaches(stdout), [], stdout);
        for (const l of stdout.split("\n").filter((l) => /^(rename|link) /.test(l)))
          assert.match(l, /: Operation not permitted$/, l);
        assert.ok(!leaksHostname(stdout), `the host's hostname leaked: ${stdout}`);
        recordFigures(t, {
          "link depth in the image": 40,
          "renames and links tried": attempts.filter((a) => a[0] !== "read").length,
          "reads through them": attempts.filter((a) => a[0] === "read").length,
          "that succeeded": 0,
        });
      });
    });

    it(`isolation ${isolation}: the shim's socket is 0600 in a 0700 folder`, async (t) => {
      assert.equal((await stat(shim.address)).mode & 0o777, 0o600);
      assert.equal((await stat(dirname(shim.address))).mode & 0o777, 0o700);
      assert.equal((await stat(shim.root)).mode & 0o777, 0o700, "the shim's root");
      recordFigures(t, { socket: "0600", "socket folder": "0700", "state root": "0700" });
    });
  });
}

describe("without a usable bwrap", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir("nodewasi-nobwrap-");
  });

  it("isolation auto warns once, loudly, and runs guests; isolation bwrap refuses to start", async (t) => {
    const env = { ...process.env, PATH: join(dir, "empty-bin") };
    const suite = await startShimSuite(["exit-code"], { env });
    try {
      for (let i = 0; i < 2; i++) {
        assert.equal(
          (await runTask(suite.task, `nb-${i}`, suite.ref("exit-code"), { args: ["3"] })).exitStatus,
          3,
        );
      }
      const warnings = suite.shim.stderr().match(/WARNING: bwrap \(bubblewrap\) is not usable here/g) ?? [];
      assert.equal(warnings.length, 1, suite.shim.stderr());
      assert.match(suite.shim.stderr(), /WITHOUT a sandbox.*install bubblewrap/);
    } finally {
      await stopShimSuite(suite);
    }
    await assert.rejects(startShim({ env, isolation: "bwrap" }), /bubblewrap is not on PATH/);
    recordFigures(t, { "tasks run unsandboxed": 2, warnings: 1, "isolation bwrap without bwrap": "refused" });
  });
});
