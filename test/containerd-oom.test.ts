/**
 * /tasks/oom under a real containerd (Debian's 1.6.20): `ctr run --memory-limit` writes
 * `linux.resources.memory.limit` into the bundle's config.json, the shim caps the module's memory (DESIGN
 * decision 9), and when the guest's `memory.grow` fails at the cap the shim forwards TaskOOM, which containerd
 * decodes (bare type URL) and `ctr events` prints between the task's start and its exit.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { containerdUnavailable, type PrivateContainerd, SHIM_RUNTIME } from "./harness/containerd.js";
import { containerdWithModuleImages, stopContainerdAndTemp } from "./harness/containerd-images.js";

const IMAGE = "nodewasi.test/oom";

describe("ctr events shows /tasks/oom for a guest that hits --memory-limit", {
  skip: containerdUnavailable() ?? false,
}, () => {
  let ctd: PrivateContainerd;
  let tmp: string;

  before(async () => {
    ({ ctd, tmp } = await containerdWithModuleImages("oom", IMAGE, {
      grow: "examples/modules/grow-memory.wasm",
    }));
  });
  after(() => stopContainerdAndTemp(ctd, tmp));

  /** Runs grow-memory growing by `pages` as task `id` with `extra` flags; the /tasks/ lines ctr events printed. */
  async function runWatched(id: string, pages: number, extra: string[]) {
    const events = spawn("ctr", ["--address", ctd.address, "events"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    events.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const lines = () =>
      out.split("\n").filter((l) => l.includes(" /tasks/") && l.includes(`"container_id":"${id}"`));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await ctd.ctr([
        "run",
        "--rm",
        ...extra,
        "--runtime",
        SHIM_RUNTIME,
        "--platform",
        "wasip1/wasm",
        `${IMAGE}:grow`,
        id,
        "/grow-memory.wasm",
        String(pages),
      ]);
      const deadline = Date.now() + 10_000;
      while (!lines().some((l) => l.includes("/tasks/delete")) && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 100));
      }
      return { r, lines: lines() };
    } finally {
      events.kill();
    }
  }

  test("create, start, oom, exit, delete; TaskOOM decoded with the container id", async (t) => {
    const { r, lines } = await runWatched("oom1", 100, ["--memory-limit", String(4 * 1024 * 1024)]);
    t.diagnostic(lines.join("\n"));
    assert.equal(r.code, 1, ctd.explain(r));
    assert.match(r.stdout, /grow 100: failed at \d+ pages/, ctd.explain(r));
    const topics = lines.map((l) => /\/tasks\/[a-z-]+/.exec(l)![0]);
    assert.deepEqual(
      topics,
      ["/tasks/create", "/tasks/start", "/tasks/oom", "/tasks/exit", "/tasks/delete"],
      lines.join("\n"),
    );
    // ctr events prints the decoded event as JSON: only a type containerd knows by its bare URL decodes.
    assert.match(lines[2]!, /\/tasks\/oom \{"container_id":"oom1"\}$/, lines[2]);
  });

  test("no /tasks/oom when the growth fits the limit", async () => {
    const { r, lines } = await runWatched("fits1", 10, ["--memory-limit", String(4 * 1024 * 1024)]);
    assert.equal(r.code, 0, ctd.explain(r));
    assert.ok(lines.length >= 4, lines.join("\n"));
    assert.ok(!lines.some((l) => l.includes("/tasks/oom")), lines.join("\n"));
  });
});
