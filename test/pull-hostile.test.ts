/**
 * Hostile tar layers (DESIGN decision 13) from a real registry: every one is refused with InvalidArgument and
 * a reason, nothing appears in (or changes under) the sentinel directory the layers aim at, and the store
 * holds only verified blobs.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ShimError } from "../src/internal/index.js";
import { pull } from "../src/oci/pull/pull.js";
import { type HostileFixture, hostileFixtures, SENTINEL_TARGET } from "./harness/hostile-fixtures.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { checkStore, listTree } from "./harness/store-check.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm");
const NAMES = [
  "traversal",
  "absolute",
  "symlink-out",
  "symlink-relative",
  "hardlink-out",
  "hardlink-up",
  "device",
  "block-device",
  "gzip-bomb",
];

describe("pull refuses hostile layers", { skip: skip ?? false }, () => {
  let registry: Registry;
  let sentinel: string;
  let fixtures: HostileFixture[] = [];
  const roots: string[] = [];

  before(async () => {
    sentinel = await mkdtemp(join(tmpdir(), "nodewasi-sentinel-"));
    await writeFile(join(sentinel, SENTINEL_TARGET), "original\n");
    registry = await startRegistry();
    fixtures = await hostileFixtures(sentinel);
    for (const f of fixtures) await pushBuilt(registry.host, f.repoTag, f.built);
  });
  after(async () => {
    await registry?.stop();
    await Promise.all([...roots, sentinel].map((r) => r && rm(r, { recursive: true, force: true })));
  });

  for (const name of NAMES) {
    test(name, async () => {
      const fixture = fixtures.find((f) => f.repoTag === `hostile/${name}:v1`);
      assert.ok(fixture, `fixture ${name} was built`);
      const root = await mkdtemp(join(tmpdir(), "nodewasi-store-"));
      roots.push(root);
      await assert.rejects(
        pull(`${registry.host}/${fixture.repoTag}`, { root, plainHttp: true }),
        (err: unknown) => {
          assert.ok(err instanceof ShimError, `want a ShimError, got ${String(err)}`);
          assert.equal(Code[err.code], Code[Code.InvalidArgument], err.message);
          assert.match(err.message, fixture.message);
          return true;
        },
      );
      assert.deepEqual(await listTree(sentinel), [SENTINEL_TARGET], "nothing written into the sentinel dir");
      assert.equal(await readFile(join(sentinel, SENTINEL_TARGET), "utf8"), "original\n");
      assert.equal(
        (await stat(join(sentinel, SENTINEL_TARGET))).nlink,
        1,
        "no hardlink made to the sentinel file",
      );
      await checkStore(root).catch((err: unknown) => {
        // A store that was never written to has no oci-layout yet; any blob that is there must verify.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      });
    });
  }
});
