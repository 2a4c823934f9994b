import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { specFor, tempDir } from "../../test/harness/index.js";
import { Code, ShimError } from "../internal/index.js";
import { ChildRunner } from "./child-runner.js";
import { parseStdio } from "./stdio.js";

const tmp = tempDir("nodewasi-logger-");
let runner: ChildRunner;
before(() => {
  runner = new ChildRunner({ isolation: "none" });
});
after(async () => {
  await runner.close();
  tmp.remove();
});

/** A logging binary in sh: closes fd 5 (ready), copies fd 3 and fd 4 into files named by its `out` argument. */
function shellLogger(body: string): string {
  const path = join(tmp.dir, `logger-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("binary:// logging binaries (containerd's fds 3, 4, 5 contract)", () => {
  it("gets stdout on fd 3, stderr on fd 4, its args and ids; exited waits for the logger to finish", async () => {
    const out = join(tmp.dir, "log");
    const logger = shellLogger(
      `[ "$1" = out ] || exit 9
      echo "$CONTAINER_ID $CONTAINER_NAMESPACE" > "$2.ids"
      exec 5>&-
      cat <&3 > "$2.1" & cat <&4 > "$2.2"; wait
      sleep 0.2; echo done > "$2.done"`,
    );
    // Two parses of the same URI, as containerd sends it for both streams: one logger, two fds.
    const uri = `binary://${logger}?out=${encodeURIComponent(out)}`;
    const p = await runner.start(
      specFor("trap", [], {
        stdout: parseStdio(uri),
        stderr: parseStdio(uri),
        id: "c1",
        namespace: "default",
      }),
    );
    assert.equal((await p.exited).code, 134);
    // The logger slept after EOF: `exited` settled only after it wrote `done` and exited.
    assert.equal(readFileSync(`${out}.done`, "utf8"), "done\n");
    assert.equal(readFileSync(`${out}.ids`, "utf8"), "c1 default\n");
    assert.equal(readFileSync(`${out}.1`, "utf8"), "");
    assert.equal(readFileSync(`${out}.2`, "utf8"), "about to trap\nError: wasm trap: unreachable\n");
  });

  it("stdout through the logger, stderr to a file", async () => {
    const out = join(tmp.dir, "log2");
    const logger = shellLogger(`exec 5>&-; cat <&3 > "$2.1"; cat <&4 > "$2.2"`);
    const p = await runner.start(
      specFor("echo-args", ["x"], {
        stdout: parseStdio(`binary://${logger}?out=${encodeURIComponent(out)}`),
        stderr: { kind: "file", path: `${out}.stderr` },
      }),
    );
    assert.equal((await p.exited).code, 0);
    assert.equal(readFileSync(`${out}.1`, "utf8"), "echo-args\nx\n");
  });

  it("a logger that exits before it is ready fails the start, and nothing runs", async () => {
    const logger = shellLogger("exit 3");
    await assert.rejects(
      runner.start(specFor("echo-args", [], { stdout: { kind: "binary", path: logger, args: [] } })),
      (e: unknown) =>
        e instanceof ShimError &&
        e.code === Code.FailedPrecondition &&
        /exited before it was ready/.test(e.message),
    );
    await assert.rejects(
      runner.start(
        specFor("echo-args", [], { stdout: { kind: "binary", path: "/nonexistent/logger", args: [] } }),
      ),
      /logging binary \/nonexistent\/logger: cannot start it/,
    );
  });
});
