/**
 * Checks a content store the way a suspicious reader would: every file under blobs/sha256 hashes to its own
 * name, nothing is left half-written in blobs/, and index.json is a valid OCI index whose entries exist.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export interface StoreReport {
  blobs: string[];
  index: {
    manifests: { digest: string; mediaType: string; size: number; annotations?: Record<string, string> }[];
  };
}

/** Asserts the store under `root` is consistent and returns what it holds. */
export async function checkStore(root: string): Promise<StoreReport> {
  const dir = join(root, "blobs", "sha256");
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    assert.match(name, /^[a-f0-9]{64}$/, `unexpected file in blobs/sha256: ${name}`);
    assert.equal(await hashFile(join(dir, name)), name, `blob ${name} does not hash to its name`);
  }
  const layout = JSON.parse(await readFile(join(root, "oci-layout"), "utf8")) as {
    imageLayoutVersion?: string;
  };
  assert.equal(layout.imageLayoutVersion, "1.0.0");
  const index = JSON.parse(await readFile(join(root, "index.json"), "utf8")) as StoreReport["index"] & {
    schemaVersion: number;
  };
  assert.equal(index.schemaVersion, 2);
  assert.ok(Array.isArray(index.manifests), "index.json has no manifests array");
  for (const m of index.manifests) {
    assert.match(m.digest, /^sha256:[a-f0-9]{64}$/);
    const st = await stat(join(dir, m.digest.slice(7)));
    assert.equal(st.size, m.size, `index.json entry ${m.digest} size differs from its blob`);
  }
  return { blobs: names, index };
}

/** Flips one byte of `path` in place (same size, same inode: what a bad disk or a stray write does). */
export function flipByte(path: string, at = 100): void {
  const bytes = readFileSync(path);
  bytes[at % bytes.length] = bytes[at % bytes.length]! ^ 0xff;
  writeFileSync(path, bytes);
}

/** Every file under `dir`, relative, sorted (for "nothing was written here" checks). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) await walk(join(d, e.name), r);
    }
  };
  await walk(dir, "");
  return out.sort();
}
