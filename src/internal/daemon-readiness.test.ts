import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type LaunchOptions, type LaunchOutcome, launchDaemon } from "./daemon-readiness.js";
import { Code, ShimError } from "./shim-error.js";

const HERE = new URL(".", import.meta.url).href;

/** Whether a process exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("launchDaemon and daemonReadiness", () => {
  let dir: string;
  const pids: number[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-readiness-"));
  });
  after(async () => {
    // Each daemon leads its own process group (it was detached), with what it spawned.
    for (const pid of pids) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {}
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** Launches a daemon whose body is `body` (an ES module with daemonReadiness and ShimError in scope). */
  async function launch(name: string, body: string, o: Partial<LaunchOptions> = {}): Promise<LaunchOutcome> {
    const script = join(dir, `${name}.mjs`);
    await writeFile(
      script,
      `import { daemonReadiness } from ${JSON.stringify(`${HERE}daemon-readiness.js`)};\n` +
        `import { Code, ShimError } from ${JSON.stringify(`${HERE}shim-error.js`)};\n${body}\n`,
    );
    const outcome = await launchDaemon({
      args: [script],
      cwd: dir,
      output: "ignore",
      timeoutMs: 30_000,
      ...o,
    });
    if ("pid" in outcome) pids.push(outcome.pid);
    return outcome;
  }

  it("resolves ready once the daemon says so, and leaves it running; the daemon's children do not see the pipe's name", async () => {
    const out = await launch(
      "ready",
      `const r = daemonReadiness();
       if (process.env.NODEWASI_READY_FD !== undefined) r.failed(new Error("the variable stayed"));
       console.error("to the log");
       r.ready();
       setInterval(() => {}, 1000);`,
      { output: openSync(join(dir, "ready.log"), "a") },
    );
    assert.equal(out.state, "ready", JSON.stringify(out));
    assert.ok(out.state === "ready" && alive(out.pid));
    assert.equal(await readFile(join(dir, "ready.log"), "utf8"), "to the log\n");
  });

  it("reports the code and reason a daemon gives, on one line", async () => {
    const out = await launch(
      "failed",
      `daemonReadiness().failed(new ShimError(Code.FailedPrecondition, "the root is taken\\nby another"));
       process.exit(1);`,
    );
    assert.equal(out.state, "failed");
    const error = (out as { error: ShimError }).error;
    assert.ok(error instanceof ShimError);
    assert.equal(error.code, Code.FailedPrecondition);
    assert.equal(error.rawMessage, "the root is taken by another");
  });

  it("reports a daemon that ends without a word, by exit status or signal", async () => {
    assert.deepEqual(await launch("exit", "process.exit(3);"), { state: "ended", status: "exit status 3" });
    assert.deepEqual(await launch("killed", `process.kill(process.pid, "SIGKILL");`), {
      state: "ended",
      status: "SIGKILL",
    });
  });

  it("does not wait for the pipe to close: a child of the daemon may hold it open", async () => {
    // The grandchild inherits fd 3 and outlives the daemon, as warm runners do.
    const grandchild = (name: string) => `const { spawn } = await import("node:child_process");
       const { writeFileSync } = await import("node:fs");
       const c = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: ["ignore", "ignore", "ignore", 3] });
       writeFileSync(${JSON.stringify(join(dir, `${name}.pid`))}, String(c.pid));`;
    const ended = await launch("orphan-exit", `${grandchild("orphan-exit")}\nprocess.exit(4);`);
    pids.push(Number(await readFile(join(dir, "orphan-exit.pid"), "utf8")));
    assert.deepEqual(ended, { state: "ended", status: "exit status 4" });
    const ready = await launch(
      "orphan-ready",
      `${grandchild("orphan-ready")}\ndaemonReadiness().ready();\nsetInterval(() => {}, 1000);`,
    );
    assert.equal(ready.state, "ready");
    pids.push(Number(await readFile(join(dir, "orphan-ready.pid"), "utf8")));
  });

  it("reports a daemon silent past the timeout, and leaves it running", async () => {
    const out = await launch("silent", "setInterval(() => {}, 1000);", { timeoutMs: 300 });
    assert.equal(out.state, "silent");
    assert.ok(out.state === "silent" && alive(out.pid));
  });

  it("reports a daemon that cannot be spawned", async () => {
    const out = await launch("nowhere", "", { cwd: join(dir, "missing") });
    assert.equal(out.state, "ended");
    assert.match((out as { status: string }).status, /ENOENT/);
  });

  it("a daemon not launched this way writes nothing, even to an open fd 3", async () => {
    const script = join(dir, "by-hand.mjs");
    await writeFile(
      script,
      `import { daemonReadiness } from ${JSON.stringify(`${HERE}daemon-readiness.js`)};\ndaemonReadiness().ready();\n`,
    );
    const env = { ...process.env };
    delete env.NODEWASI_READY_FD;
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "ignore", "inherit", "pipe"], env });
    let text = "";
    child.stdio[3]!.on("data", (d: Buffer) => (text += d.toString()));
    await new Promise((r) => child.once("close", r));
    assert.equal(text, "");
  });

  it("never writes to stdin, stdout or stderr, whatever the variable says", async () => {
    const script = join(dir, "stdout.mjs");
    await writeFile(
      script,
      `import { daemonReadiness } from ${JSON.stringify(`${HERE}daemon-readiness.js`)};\n` +
        `daemonReadiness({ NODEWASI_READY_FD: "1" }).ready();\nconsole.log("still open");\n`,
    );
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (d: Buffer) => (text += d.toString()));
    await new Promise((r) => child.once("close", r));
    assert.equal(text, "still open\n");
  });
});
