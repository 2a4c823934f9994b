/**
 * The store's disk full during a pull (issue 6, item 2): the store root is a 2 MiB tmpfs made by the test,
 * and the image does not fit. The pull fails with a clear error naming the place and what to do, the store
 * stays consistent (nothing half-written in blobs/), the process does not crash; after the tmpfs is grown the
 * same pull succeeds. Needs root (mount); skipped with the reason otherwise.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sha256 } from "../src/internal/index.js";
import { buildImage } from "../src/oci/build/build.js";
import { bigModule } from "./harness/modules.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { bytesFigure, recordFigures } from "./harness/reliability.js";
import { REPO_ROOT } from "./harness/shim.js";
import { checkStore } from "./harness/store-check.js";
import { mountSkipReason, mountTmpfs, unmount } from "./harness/tmpfs.js";

const BIN = join(REPO_ROOT, "bin", "nodewasi");
const TMPFS = 2 * 1024 * 1024;

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm") ?? mountSkipReason();

/** `nodewasi --root ROOT pull REF`: exit code and both outputs. */
function pullCli(root: string, ref: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [BIN, "--root", root, "pull", ref], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("the store's disk full during a pull", { skip: skip ?? false }, () => {
  let registry: Registry;
  let dir: string;
  const mounts: string[] = [];

  before(async () => {
    registry = await startRegistry();
    dir = mkdtempSync(join(tmpdir(), "nodewasi-diskfull-"));
  });
  after(async () => {
    for (const m of mounts) unmount(m);
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh 2 MiB tmpfs store. */
  const smallStore = (name: string) => {
    const root = join(dir, name);
    mountTmpfs(root, `size=${TMPFS},mode=0700`);
    mounts.push(root);
    return root;
  };

  for (const [name, size, where] of [
    ["download", 3 * 1024 * 1024, "the layer does not fit"],
    ["unpack", 1280 * 1024, "the layer fits, its unpacked rootfs does not"],
  ] as const) {
    it(`${name}: ${where}; a clear error, a consistent store, and the pull succeeds once there is space`, async (t) => {
      const module = bigModule(`disk full during ${name}`, size);
      const ref = `${registry.host}/full/${name}:v1`;
      await pushBuilt(registry.host, `full/${name}:v1`, buildImage({ module, format: "image" }));
      const root = smallStore(name);

      const failed = await pullCli(root, ref);
      assert.equal(failed.code, 1, failed.stderr);
      assert.equal(failed.stdout, "", "nothing on stdout");
      assert.match(failed.stderr, /^nodewasi: .*no space left on (the |its )?device/im, failed.stderr);
      assert.doesNotMatch(failed.stderr, /\n\s+at /, "no stack trace");
      assert.ok(failed.stderr.includes(root), `the error names the store: ${failed.stderr}`);
      const store = await checkStore(root);
      assert.equal(store.index.manifests.length, 0, "nothing tagged");

      execFileSync("mount", ["-o", "remount,size=32m", root]);
      const ok = await pullCli(root, ref);
      assert.equal(ok.code, 0, ok.stderr);
      const path = /^path:\s+(\S+)$/m.exec(ok.stdout)?.[1];
      assert.ok(path, ok.stdout);
      assert.equal(sha256(await readFile(path)), sha256(module));
      await checkStore(root);
      recordFigures(t, {
        "store size": bytesFigure(TMPFS),
        "module size": bytesFigure(size),
        "first pull": "failed, exit 1, no space left on device, store consistent",
        "after growing to 32 MiB": "pulled, module verified",
      });
    });
  }
});
