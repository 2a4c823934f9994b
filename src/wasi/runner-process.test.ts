/**
 * A runner process that dies before it is ready says how it ended and what it wrote to stderr. Seen once in a
 * loaded suite run: "runner process N exited while booting" with nothing after it, which left no clue.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShimError } from "../internal/index.js";
import { RunnerProcess } from "./runner-process.js";

describe("RunnerProcess", () => {
  it("a runner that dies while booting is reported with its status or signal and the end of its stderr", async () => {
    // A "sandbox" that writes 60 KB then its reason and exits at once, as a bwrap refusing its arguments does
    // (bwrap's own arguments and node's follow as the shell's positional parameters, unused).
    for (let i = 0; i < 5; i++) {
      const runner = new RunnerProcess({
        sandbox: {
          bwrap: "/bin/sh",
          args: ["-c", "head -c 60000 /dev/zero | tr '\\0' x >&2; echo ' the reason' >&2; exit 1", "sh"],
        },
      });
      await assert.rejects(runner.ready, (err: unknown) => {
        assert.ok(err instanceof ShimError);
        assert.match(err.rawMessage, /exited while booting \(status 1\): x+ the reason;/);
        return true;
      });
      await runner.ended;
    }
    const killed = new RunnerProcess({ sandbox: { bwrap: "/bin/sh", args: ["-c", "kill -9 $$", "sh"] } });
    await assert.rejects(killed.ready, /exited while booting \(killed by SIGKILL\)/);
  });
});
