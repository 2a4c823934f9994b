/**
 * Progress on a terminal: the real bin runs under a pseudo-terminal (util-linux `script`), so stderr is a TTY
 * and the pull draws a cli-progress bar per layer; the second pull has nothing to fetch and draws none.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { onTerminal, terminalUnavailable } from "../../test/harness/terminal.js";
import { buildImage, writeLayout } from "../oci/index.js";

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../../.."), "bin", "nodewasi");

/** Runs `nodewasi args` with a terminal as stdin, stdout and stderr; returns what the terminal showed. */
function nodewasiOnTerminal(args: string[], root: string): Promise<{ code: number; screen: string }> {
  return onTerminal([BIN, ...args], { ...process.env, NODEWASI_ROOT: root, COLUMNS: "120" });
}

describe("pull progress on a terminal", {
  skip: terminalUnavailable() ?? false,
}, () => {
  let work: string;
  let ref: string;
  let layerDigest: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nodewasi-tty-"));
    const image = buildImage({ module: Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), format: "image" });
    const manifest = JSON.parse(image.blobs.get(image.manifest.digest)!.toString()) as {
      layers: { digest: string }[];
    };
    layerDigest = manifest.layers[0]!.digest;
    await writeLayout(join(work, "layout"), [{ image, tag: "v1" }]);
    ref = `oci:${join(work, "layout")}:v1`;
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("draws a bar for the layer, with its short digest and size, and restores the cursor", async () => {
    const { code, screen } = await nodewasiOnTerminal(["pull", ref], join(work, "root"));
    assert.equal(code, 0, screen);
    assert.match(screen, /^resolved oci:.* to sha256:[0-9a-f]{64}\r?$/m);
    assert.match(screen, /^platform wasip1\/wasm, format image\r?$/m);
    const bar = new RegExp(
      ` ${layerDigest.slice(0, 19)} {2}\\S+ {2}[\\d.]+ (?:B|KiB) / [\\d.]+ (?:B|KiB) {2}done`,
    );
    assert.match(screen, bar);
    assert.match(screen, /\x1b\[\?25l/, "the cursor is hidden while bars draw");
    assert.match(screen, /\x1b\[\?25h/, "and shown again after");
    assert.match(screen, /^extracted module sha256:[0-9a-f]{12} /m);
    assert.match(screen, /^module: +sha256:[0-9a-f]{64} /m);
  });

  it("draws no bar when everything is already stored", async () => {
    const { code, screen } = await nodewasiOnTerminal(["pull", ref], join(work, "root"));
    assert.equal(code, 0, screen);
    assert.doesNotMatch(screen, /\x1b\[/);
    assert.match(screen, /^module already extracted sha256:[0-9a-f]{12} /m);
    assert.match(screen, /^done oci:.* nothing fetched\r?$/m);
  });
});
