/**
 * stdio through a shim process (DESIGN decision 16): a stdin FIFO the client writes and closes reaches the
 * guest whole and ends with EOF; `terminal=true` sends stderr to the stdout target; empty stdio is /dev/null;
 * CloseIO is accepted (the guest reads the FIFO itself, so EOF comes from the client closing its end).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  fifoReader,
  imageOptions,
  mkfifo,
  type ShimSuite,
  startShimSuite,
  stopShimSuite,
} from "./harness/task-kit.js";

describe("stdio, against a shim process", () => {
  let shim: ShimSuite["shim"];
  let task: ShimSuite["task"];
  let dir: string;
  let ref: ShimSuite["ref"];

  before(async () => {
    ({ shim, task, dir, ref } = await startShimSuite(["cat-stdin", "trap", "echo-args"]));
  });
  after(() => stopShimSuite({ shim, dir }));

  it("8 MiB written into a stdin FIFO come back whole from cat-stdin's stdout FIFO, then EOF", async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const stdin = join(dir, "in.fifo");
    const stdout = join(dir, "out.fifo");
    mkfifo(stdin);
    mkfifo(stdout);
    const reader = await fifoReader(stdout);
    const hash = createHash("sha256");
    let bytes = 0;
    reader.on("data", (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    const eof = new Promise((resolve) => reader.once("end", resolve));
    await task.create({ id: "cat", stdin, stdout, options: imageOptions(ref("cat-stdin")) });
    const waiting = task.wait({ id: "cat" });
    // Completes once the runner opens the read end, during Start.
    const writer = open(stdin, "w");
    await task.start({ id: "cat" });
    const w = await writer;
    await w.writeFile(data);
    await task.closeIO({ id: "cat", stdin: true });
    await w.close();
    const [exit] = await Promise.all([waiting, eof]);
    assert.equal(exit.exitStatus, 0);
    assert.equal(bytes, data.length);
    assert.equal(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
    await task.delete({ id: "cat" });
    reader.destroy();
  });

  it("terminal=true: what the guest writes to stderr goes to the stdout target", async () => {
    const out = join(dir, "tty.out");
    await task.create({
      id: "tty",
      terminal: true,
      stdout: `file://${out}`,
      options: imageOptions(ref("trap")),
    });
    const state = await task.state({ id: "tty" });
    assert.equal(state.terminal, true);
    const waiting = task.wait({ id: "tty" });
    await task.start({ id: "tty" });
    assert.equal((await waiting).exitStatus, 134);
    assert.match(await readFile(out, "utf8"), /^about to trap\n/);
    await task.delete({ id: "tty" });
  });

  it("empty stdio means /dev/null: the guest runs and exits 0", async () => {
    await task.create({ id: "quiet", options: imageOptions(ref("echo-args"), { args: ["x"] }) });
    const waiting = task.wait({ id: "quiet" });
    await task.start({ id: "quiet" });
    assert.equal((await waiting).exitStatus, 0);
    await task.delete({ id: "quiet" });
  });
});
