/**
 * Output integrity through a shim process: a guest writes 100 MiB to stdout into a FIFO that the test reads
 * (opened before Start, as containerd's client does); every byte arrives in order (same sha256 as the
 * pattern write-bytes.c writes) and EOF follows, and the task exits 0.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
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

const SIZE = 100 * 1024 * 1024;

/** sha256 of write-bytes.c's output of `total` bytes: byte i = (i * 7 + floor(i / 251)) & 0xff. */
function expectedSha256(total: number): string {
  const hash = createHash("sha256");
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < total; i += chunk.length) {
    const n = Math.min(chunk.length, total - i);
    for (let k = 0; k < n; k++) {
      const x = i + k;
      chunk[k] = (x * 7 + Math.floor(x / 251)) & 0xff;
    }
    hash.update(n === chunk.length ? chunk : chunk.subarray(0, n));
  }
  return hash.digest("hex");
}

describe("output integrity, against a shim process", () => {
  let shim: ShimSuite["shim"];
  let task: ShimSuite["task"];
  let dir: string;
  let ref: ShimSuite["ref"];

  before(async () => {
    ({ shim, task, dir, ref } = await startShimSuite(["write-bytes"], {}, 60_000));
  });
  after(() => stopShimSuite({ shim, dir }));

  it("100 MiB written to a stdout FIFO arrive whole (sha256) and end with EOF", async () => {
    const fifo = join(dir, "out.fifo");
    mkfifo(fifo);
    const reader = await fifoReader(fifo);
    const hash = createHash("sha256");
    let bytes = 0;
    const eof = new Promise<void>((resolve, reject) => {
      reader.on("data", (d: Buffer) => {
        bytes += d.length;
        hash.update(d);
      });
      reader.once("end", resolve);
      reader.once("error", reject);
    });
    await task.create({
      id: "big",
      stdout: fifo,
      options: imageOptions(ref("write-bytes"), { args: [String(SIZE)] }),
    });
    const waiting = task.wait({ id: "big" });
    await task.start({ id: "big" });
    const expected = expectedSha256(SIZE);
    const [exit] = await Promise.all([waiting, eof]);
    assert.equal(exit.exitStatus, 0);
    assert.equal(bytes, SIZE);
    assert.equal(hash.digest("hex"), expected);
    assert.equal((await task.delete({ id: "big" })).exitStatus, 0);
    reader.destroy();
  });
});
