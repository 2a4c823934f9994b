/**
 * RunSpec.moduleDigest: the runner hashes the very bytes it compiles, so a module changed or damaged after the
 * store verified it is refused (DataLoss) on a cold runner and on a warm one, and a good one runs as before.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { specFor, tempDir, testModule } from "../../test/harness/index.js";
import { Code, ShimError, sha256 } from "../internal/index.js";
import { ChildRunner } from "./child-runner.js";

const tmp = tempDir("nodewasi-module-digest-");
const runners: ChildRunner[] = [];
after(async () => {
  for (const r of runners) await r.close();
  tmp.remove();
});

describe("the runner checks the module's digest", () => {
  for (const pool of [0, 1]) {
    it(`${pool ? "warm" : "cold"} runner: the right digest runs; a changed byte is refused, naming both digests`, async () => {
      const runner = new ChildRunner({ isolation: "none", pool });
      runners.push(runner);
      const good = readFileSync(testModule("exit-code"));
      const path = join(tmp.dir, `exit-code-${pool}.wasm`);
      copyFileSync(testModule("exit-code"), path);
      const ran = await runner.start(
        specFor("exit-code", ["7"], { module: path, moduleDigest: sha256(good) }),
      );
      assert.equal((await ran.exited).code, 7);
      const bad = Buffer.from(good);
      bad[bad.length - 1] = bad[bad.length - 1]! ^ 0x01;
      writeFileSync(path, bad);
      await assert.rejects(
        runner.start(specFor("exit-code", ["7"], { module: path, moduleDigest: sha256(good) })),
        (err: unknown) => {
          assert.ok(err instanceof ShimError);
          assert.equal(err.code, Code.DataLoss);
          assert.match(
            err.rawMessage,
            new RegExp(
              `its bytes hash to ${sha256(bad)}, not ${sha256(good)}: .*changed or damaged.*refusing to run it`,
            ),
          );
          return true;
        },
      );
    });
  }
});
