import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, type Digest, ShimError, sha256 } from "../../internal/index.js";
import { Annotation, type Descriptor, MAX_MANIFEST_BYTES, MediaType } from "../image/index.js";
import { ContentStore } from "./store.js";
import { MAX_STORE_INDEX_BYTES, readIndexFile, rebuildIndex } from "./store-index.js";

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "nodewasi-index-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshStore = () => ContentStore.open(join(tmp, `store-${++n}`));

/** Stores a small manifest-like blob and a pull record naming it, as a pull leaves them. */
async function pulled(store: ContentStore, name: string): Promise<Descriptor> {
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [], name }),
  );
  const { digest, size } = await store.writeBlob(bytes);
  const desc = { mediaType: MediaType.OciIndex, digest, size };
  const manifest = sha256(`manifest of ${name}`);
  await store.recordExtraction(manifest, {
    name,
    digest,
    mediaType: MediaType.OciIndex,
    manifest: { mediaType: MediaType.OciManifest, digest: manifest, size: 1 },
    module: { digest: sha256("m") },
  });
  await store.tag(name, { ...desc, annotations: { [Annotation.PulledManifest]: manifest } });
  return desc;
}

const damaged = (e: unknown, what: RegExp) => {
  assert.ok(e instanceof ShimError, String(e));
  assert.equal(e.code, Code.DataLoss);
  assert.match(e.rawMessage, /the store's list of images .*index\.json is damaged/);
  assert.match(e.rawMessage, what);
  assert.match(e.rawMessage, /run `nodewasi --root .* check --repair` to rebuild it/);
  return true;
};

describe("the store's index.json", () => {
  it("is written with a backup copy, both by atomic rename", async () => {
    const store = await freshStore();
    await pulled(store, "r/a:1");
    const main = readFileSync(join(store.root, "index.json"), "utf8");
    assert.equal(readFileSync(join(store.root, "index.json.bak"), "utf8"), main);
    assert.deepEqual(
      readdirSync(store.root).filter((f) => f.includes(".tmp-")),
      [],
    );
  });

  it("truncated, of the wrong shape, empty, or 200 MB: every reader says it is damaged and what repairs it", async () => {
    const store = await freshStore();
    await pulled(store, "r/a:1");
    const path = join(store.root, "index.json");
    const good = readFileSync(path);
    const cases: [string, () => void, RegExp][] = [
      [
        "truncated",
        () => writeFileSync(path, good.subarray(0, good.length / 2)),
        /not valid JSON.*cut short/,
      ],
      ["an array", () => writeFileSync(path, "[]\n"), /JSON but not an object/],
      [
        "no manifests array",
        () => writeFileSync(path, '{"schemaVersion":2,"manifests":{}}\n'),
        /no manifests array/,
      ],
      ["empty", () => writeFileSync(path, ""), /it is empty/],
      [
        "200 MB",
        () => truncateSync(path, 200 * 1024 * 1024),
        new RegExp(`over the ${MAX_STORE_INDEX_BYTES}-byte limit`),
      ],
    ];
    for (const [what, damage, problem] of cases) {
      damage();
      const started = Date.now();
      for (const op of [
        () => store.images(),
        () => store.resolve("r/a:1"),
        () => store.tag("r/b:1", good as never),
      ]) {
        await assert.rejects(op(), (e) => damaged(e, problem), what);
      }
      await assert.rejects(store.prune(), (e) => damaged(e, problem), what);
      assert.ok(Date.now() - started < 20_000, `${what}: answered without reading it all`);
      writeFileSync(path, good);
    }
    assert.equal((await store.images()).length, 1, "the content was never touched");
  });

  it("holds more names than a registry manifest's 4 MiB (12,000 names)", async () => {
    const store = await freshStore();
    const d = sha256("x");
    const manifests = Array.from({ length: 12_000 }, (_, i) => ({
      mediaType: MediaType.OciIndex,
      digest: d,
      size: 1,
      annotations: {
        [Annotation.ImageName]: `registry.example.com/team/app-${i}:v1.2.3`,
        [Annotation.RefName]: `registry.example.com/team/app-${i}:v1.2.3`,
        [Annotation.PulledManifest]: d,
      },
    }));
    const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }, null, 2);
    assert.ok(text.length > MAX_MANIFEST_BYTES, `${text.length} bytes`);
    writeFileSync(join(store.root, "index.json"), text);
    assert.equal((await store.images()).length, 12_000);
    await store.tag("r/one-more:1", { mediaType: MediaType.OciIndex, digest: d, size: 1 });
    assert.equal((await store.images()).length, 12_001);
  });

  it("a store with content whose index.json is gone is damaged, not new: prune deletes nothing", async () => {
    const store = await freshStore();
    const desc = await pulled(store, "r/a:1");
    unlinkSync(join(store.root, "index.json"));
    const reopened = await ContentStore.open(store.root);
    assert.equal(existsSync(join(store.root, "index.json")), false, "no empty index.json was made");
    await assert.rejects(reopened.images(), (e) => damaged(e, /it is missing/));
    await assert.rejects(reopened.prune(), (e) => damaged(e, /it is missing/));
    assert.ok(await reopened.has(desc), "prune deleted nothing");
  });

  it("rebuilds from the backup, else from the pull records (the newest record of a name wins)", async () => {
    const store = await freshStore();
    const a = await pulled(store, "r/a:1");
    const b = await pulled(store, "r/b:1");
    await store.tag("r/alias:1", a); // a name that only the index and its backup know
    const good = readFileSync(join(store.root, "index.json"));
    writeFileSync(join(store.root, "index.json"), "{");
    const fromBackup = await rebuildIndex(store.root);
    assert.deepEqual(fromBackup.from, ["index.json.bak"]);
    assert.deepEqual(
      fromBackup.index.manifests.map((m) => [m.annotations?.[Annotation.ImageName], m.digest]),
      [
        ["r/a:1", a.digest],
        ["r/b:1", b.digest],
        ["r/alias:1", a.digest],
      ],
    );
    // Without the backup: the pull records. r/b:1 was pulled twice; the newer record names another digest.
    writeFileSync(join(store.root, "index.json"), good);
    const older = readdirSync(join(store.root, "extracted"));
    for (const f of older) utimesSync(join(store.root, "extracted", f), new Date(1e12), new Date(1e12));
    const b2 = await pulled(store, "r/b:1");
    writeFileSync(join(store.root, "index.json"), "{");
    unlinkSync(join(store.root, "index.json.bak"));
    // A record whose top blob is gone names nothing the store can serve: skipped.
    const gone = sha256("gone") as Digest;
    await store.recordExtraction(sha256("m-gone"), {
      name: "r/gone:1",
      digest: gone,
      mediaType: MediaType.OciIndex,
      manifest: { digest: sha256("m-gone") },
      module: { digest: sha256("m") },
    });
    const fromRecords = await rebuildIndex(store.root);
    assert.deepEqual(fromRecords.from, ["2 pull records"]);
    assert.deepEqual(
      fromRecords.index.manifests
        .map((m) => [m.annotations?.[Annotation.ImageName], m.digest, m.size])
        .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
      [
        ["r/a:1", a.digest, a.size],
        ["r/b:1", b2.digest, b2.size],
      ],
    );
  });

  it("readIndexFile never throws for content, and says when a file looks cut short", async () => {
    const path = join(tmp, "index-read.json");
    writeFileSync(path, '{"schemaVersion":2,"manifests":[');
    const r = await readIndexFile(path);
    assert.ok("problem" in r && /cut short/.test(r.problem), JSON.stringify(r));
    execFileSync("chmod", ["000", path]);
    if (process.getuid?.() !== 0) {
      const denied = await readIndexFile(path);
      assert.ok(
        "problem" in denied && /cannot be read \(EACCES\)/.test(denied.problem),
        JSON.stringify(denied),
      );
    }
    execFileSync("chmod", ["600", path]);
    assert.deepEqual(await readIndexFile(join(tmp, "none.json")), {
      problem: "it is missing",
      missing: true,
    });
  });
});
