/**
 * Issue 10 item 11 and what it led to: images too big for the unpack limits are refused as soon as a limit
 * is crossed, in bounded memory, through the real CLI pulling from a real registry (the bottom layer unpacks
 * while it downloads, the path a single-layer image takes), and a genuine big image goes through once the
 * limit named in the refusal is raised.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildImage } from "../src/oci/index.js";
import { BIN, finished, REPO } from "./harness/index.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry } from "./harness/registry.js";
import { recordFigures } from "./harness/reliability.js";

const skip = registrySkipReason();
/** Entries of the big layer, and the limit the first pull runs with: twice as many entries as allowed. */
const ENTRIES = 16_000;
const LIMIT = 8_000;

/** How many files the unpacker's temporary rootfs folders under `root` hold right now. */
function filesBeingUnpacked(root: string): number {
  const dir = join(root, "rootfs");
  let n = 0;
  try {
    for (const d of readdirSync(dir)) {
      if (d.includes(".tmp-")) n += readdirSync(join(dir, d), { recursive: true }).length;
    }
  } catch {
    // not there yet, or removed meanwhile
  }
  return n;
}

describe("big images against the unpack limits", { skip: skip ?? false }, () => {
  let registry: Registry;
  let work: string;
  let ref: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nodewasi-big-"));
    registry = await startRegistry();
    const module = await readFile(join(REPO, "examples", "hello", "hello.wasm"));
    const files = Array.from({ length: ENTRIES - 1 }, (_, i) => ({
      path: `d${Math.floor(i / 1000)}/f${i}`,
      data: Buffer.from("x"),
    }));
    ref = `${registry.host}/big/files:v1`;
    await pushBuilt(
      registry.host,
      "big/files:v1",
      buildImage({ module, format: "image", entrypoint: "/hello.wasm", files }),
    );
  });
  after(async () => {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("a layer over the entry limit is refused before its files are written, and passes once the limit is raised", async (t) => {
    const root = join(work, "root");
    const pull = (env: Record<string, string>) =>
      spawn(process.execPath, [BIN, "--root", root, "pull", "-q", ref], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
    const refused = pull({ NODEWASI_UNPACK_MAX_ENTRIES: String(LIMIT) });
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, filesBeingUnpacked(root));
    }, 100);
    const r = await finished(refused);
    clearInterval(sampler);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /the image has more than 8000 entries/);
    assert.match(r.stderr, /set NODEWASI_UNPACK_MAX_ENTRIES higher where the pull runs/);
    assert.doesNotMatch(r.stderr, /hint:/, "the refusal says what to do; no generic hint about digests");
    assert.ok(most < LIMIT / 2, `${most} files were unpacked before the refusal (limit ${LIMIT})`);
    assert.deepEqual(readdirSync(join(root, "rootfs")), [], "the partial rootfs was removed");

    const raised = await finished(pull({ NODEWASI_UNPACK_MAX_ENTRIES: String(2 * ENTRIES) }));
    assert.equal(raised.code, 0, raised.stderr);
    assert.match(raised.stdout, /^sha256:[0-9a-f]{64}\n$/);
    recordFigures(t, {
      "entries in the layer": ENTRIES,
      "limit (NODEWASI_UNPACK_MAX_ENTRIES)": LIMIT,
      "files unpacked before the refusal": `< ${LIMIT / 2} (held)`,
      "pull with the limit raised": "passed",
    });
  });
});
