import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { helloModule } from "../../../test/harness/modules.js";
import { flipByte } from "../../../test/harness/store-check.js";
import { Code, sha256 } from "../../internal/index.js";
import { buildImage, builtImageSource } from "../build/index.js";
import { ContentStore } from "../store/index.js";
import { pullFrom } from "./pull.js";
import { checkFailure, checkStore } from "./store-check.js";

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-check-"));
});
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;

const module = helloModule("checked");
const tarImage = buildImage({ module, format: "image", entrypoint: "/hello.wasm" });
const artifact = buildImage({ module: helloModule("raw layer"), format: "artifact" });

async function storeWithImages() {
  const store = await ContentStore.open(join(tmp, `store-${++n}`));
  const tar = await pullFrom(store, builtImageSource(tarImage, "example.com/tar:1"), "example.com/tar:1");
  const raw = await pullFrom(store, builtImageSource(artifact, "example.com/raw:1"), "example.com/raw:1");
  return { store, tar, raw };
}

describe("nodewasi check (checkStore)", () => {
  it("a sound store: everything checked, no problem", async () => {
    const { store } = await storeWithImages();
    const report = await checkStore(store);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.checked, {
      blobs: tarImage.blobs.size + artifact.blobs.size,
      modules: 2,
      records: 2,
      images: 2,
      bytes: report.checked.bytes,
    });
    assert.equal(checkFailure(store.root, report, false), undefined);
  });

  it("a damaged module: reported, then repaired by extracting it again from the stored blobs, no network", async () => {
    const { store, tar } = await storeWithImages();
    flipByte(tar.module.path, 1000);
    const report = await checkStore(store);
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.path, p.repaired]),
      [
        ["module", tar.module.path, false],
        ["record", store.recordPath(tar.manifest.digest), false],
      ],
    );
    const failure = checkFailure(store.root, report, false);
    assert.equal(failure?.code, Code.DataLoss);
    assert.match(String(failure?.details.hint), /check --repair/);
    // The source is gone: only the store's own blobs can rebuild it.
    const repaired = await checkStore(store, { repair: true });
    assert.deepEqual(
      repaired.problems.map((p) => [p.kind, p.repaired, p.fix]),
      [
        ["module", true, "remove it, with the rootfs it was extracted from, and extract it again"],
        ["record", true, "remove it and extract the image again"],
        ["image", true, "extracted it again from the stored blobs"],
      ],
    );
    assert.deepEqual(repaired.pullAgain, []);
    assert.deepEqual(readFileSync(tar.module.path), module);
    assert.ok(existsSync(join(tar.rootfs!, "hello.wasm")));
    assert.deepEqual((await checkStore(store)).problems, []);
  });

  it("a damaged raw layer (its module shares the inode): removed, and the image listed to be pulled again", async () => {
    const { store, raw } = await storeWithImages();
    flipByte(raw.module.path, 1000);
    const report = await checkStore(store, { repair: true });
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.repaired]),
      [
        ["blob", true],
        ["module", true],
        ["record", true],
        ["image", false],
      ],
    );
    assert.deepEqual(report.pullAgain, ["example.com/raw:1"]);
    assert.match(
      String(checkFailure(store.root, report, true)?.details.hint),
      /nodewasi pull example\.com\/raw:1/,
    );
    assert.equal(existsSync(raw.module.path), false);
  });

  it("a damaged index.json is rebuilt from its backup; leftovers and junk go", async () => {
    const { store } = await storeWithImages();
    writeFileSync(join(store.root, "index.json"), '{"schemaVersion":2,"manif');
    const dead = spawnSync(process.execPath, [
      "-e",
      "process.stdout.write(String(process.pid))",
    ]).stdout.toString();
    mkdirSync(join(store.root, "rootfs", `${"ab".repeat(32)}.tmp-${dead}-1`));
    writeFileSync(join(store.root, "blobs", "sha256", "not-a-digest"), "junk");
    symlinkSync("/etc/hostname", join(store.root, "modules", "sha256", sha256("x").slice(7)));
    const report = await checkStore(store, { repair: true });
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.repaired]),
      [
        ["index", true],
        ["leftover", true],
        ["blob", true],
        ["module", true],
      ],
    );
    assert.match(report.problems[0]!.fix, /^rebuilt with 2 names from index\.json\.bak$/);
    assert.match(report.problems[3]!.problem, /it is a symlink, not a regular file/);
    assert.equal((await store.images()).length, 2);
    assert.deepEqual((await checkStore(store)).problems, []);
  });
});
