import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import module from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { compileCacheDir, isPrivateDir } from "./compile-cache.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BIN = join(REPO, "bin", "nodewasi");
const run = promisify(execFile);
/** Whether this Node has a compile cache (22.1 and later); Node 20 has none. */
const HAS_CACHE =
  typeof (module as unknown as { enableCompileCache?: unknown }).enableCompileCache === "function";
const uid = process.getuid!();

/** Every file under `dir` (none when it does not exist). */
const filesUnder = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, encoding: "utf8" }).filter(
        (f) => !statSync(join(dir, f)).isDirectory(),
      )
    : [];

/** `nodewasi --help` with the cache root `xdg`; asserts that it works and says nothing on stderr. */
async function help(xdg: string): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: xdg };
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  const r = await run(process.execPath, [BIN, "--help"], { env });
  assert.match(r.stdout, /Usage: nodewasi/);
  assert.equal(r.stderr, "");
}

describe("compile cache", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-compile-cache-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("lives in $XDG_CACHE_HOME/nodewasi, else in ~/.cache/nodewasi", () => {
    assert.equal(compileCacheDir({ XDG_CACHE_HOME: "/x/cache" }), "/x/cache/nodewasi/compile-cache");
    assert.equal(compileCacheDir({}), join(homedir(), ".cache", "nodewasi", "compile-cache"));
  });

  it("is used only in a directory of this user's that no one else may write, inside one of the same kind", () => {
    const parent = join(dir, "private");
    const cache = join(parent, "cache");
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    chmodSync(parent, 0o700);
    assert.equal(isPrivateDir(cache, uid), true);
    assert.equal(isPrivateDir(cache, uid + 1), false, "another user's");
    assert.equal(isPrivateDir(join(parent, "missing"), uid), false);
    chmodSync(cache, 0o770);
    assert.equal(isPrivateDir(cache, uid), false, "group-writable");
    chmodSync(cache, 0o702);
    assert.equal(isPrivateDir(cache, uid), false, "world-writable");
    chmodSync(cache, 0o700);
    chmodSync(parent, 0o777);
    assert.equal(isPrivateDir(cache, uid), false, "in a folder others may write");
    chmodSync(parent, 0o700);
    const link = join(parent, "link");
    symlinkSync(cache, link);
    assert.equal(isPrivateDir(link, uid), false, "a link to the directory");
    const file = join(parent, "file");
    writeFileSync(file, "");
    assert.equal(isPrivateDir(file, uid), false, "a file");
  });

  it("is made 0700 and filled by a command on a Node that has one, and never made on Node 20", async () => {
    const xdg = join(dir, "fresh");
    await help(xdg);
    const cache = join(xdg, "nodewasi", "compile-cache");
    if (!HAS_CACHE) {
      assert.equal(existsSync(join(xdg, "nodewasi")), false);
      return;
    }
    assert.equal(statSync(cache).mode & 0o777, 0o700);
    assert.ok(filesUnder(cache).length > 0, "the bundle's compiled code is kept");
  });

  it("is not used when another user owns it or others may write it, and the command still runs", async () => {
    const xdg = join(dir, "shared");
    const cache = join(xdg, "nodewasi", "compile-cache");
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    chmodSync(cache, 0o777);
    await help(xdg);
    assert.deepEqual(filesUnder(cache), []);
    if (uid === 0) {
      chmodSync(cache, 0o700);
      chownSync(cache, 65534, 65534);
      await help(xdg);
      assert.deepEqual(filesUnder(cache), []);
    }
  });

  it("is skipped when its folder cannot be made: a command runs as without it", async () => {
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "");
    await help(join(file, "cache"));
  });
});
