/**
 * `pull` and its policy (pull-types.ts `PullPolicy`): when it goes to the source and when the store answers,
 * over a real OCI image layout and store. The steps of a fetching pull have their own tests (fetch-blob,
 * extract, pull-repair, test/pull*.test.ts against registries).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { helloModule } from "../../../test/harness/modules.js";
import { Code, ShimError } from "../../internal/index.js";
import { buildImage, writeLayout } from "../build/index.js";
import type { PullEvent, PullOptions } from "../store/index.js";
import { ContentStore } from "../store/index.js";
import { sourceName } from "./open-source.js";
import { pull } from "./pull.js";

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-pull-"));
});
after(() => rm(tmp, { recursive: true, force: true }));

const module = helloModule("pulled by policy");
const image = buildImage({ module, format: "image", entrypoint: "/hello.wasm" });
let n = 0;

/** A layout holding the image under two tags, and an empty store. */
async function fixture() {
  const dir = join(tmp, `case-${++n}`);
  const layout = join(dir, "layout");
  await writeLayout(layout, [
    { image, tag: "v1" },
    { image, tag: "v2" },
  ]);
  return { root: join(dir, "store"), layout, ref: `oci:${layout}:v1`, other: `oci:${layout}:v2` };
}

/** A pull that records what it reported and whether it went to the source. */
async function pulling(ref: string, opts: PullOptions) {
  const events: PullEvent[] = [];
  let fetched = false;
  const result = await pull(ref, {
    ...opts,
    onEvent: (e) => events.push(e),
    onFetch: () => {
      fetched = true;
    },
  });
  return { result, events, fetched };
}

const types = (events: PullEvent[]) => events.map((e) => e.type);

describe("pull with a policy", () => {
  it("always (the default) goes to the source every time; the second pull fetches nothing", async () => {
    const f = await fixture();
    const first = await pulling(f.ref, { root: f.root });
    assert.ok(first.fetched);
    assert.ok(first.result.bytesFetched > 0);
    assert.deepEqual(first.events.at(-1), {
      type: "extracted",
      module: first.result.module.digest,
      size: module.length,
      cached: false,
    });
    const again = await pulling(f.ref, { root: f.root, policy: "always" });
    assert.ok(again.fetched);
    assert.equal(again.result.bytesFetched, 0);
    assert.equal(again.events[0]?.type, "resolved");
    assert.deepEqual(again.events.at(-1), { ...first.events.at(-1), cached: true });
  });

  it("always, of an image the store has, rewrites none of index.json, its backup or the pull record", async () => {
    const f = await fixture();
    await pulling(f.ref, { root: f.root });
    // The second pull's record says bytesFetched 0, the first one's more: from the second on nothing changes.
    await pulling(f.ref, { root: f.root });
    const store = await ContentStore.open(f.root);
    const digest = (await store.resolve(f.ref))!.digest;
    const files = [join(f.root, "index.json"), join(f.root, "index.json.bak"), store.recordPath(digest)];
    const inodes = async () => Promise.all(files.map(async (p) => (await stat(p)).ino));
    const before = await inodes();
    const again = await pulling(f.ref, { root: f.root });
    assert.ok(again.fetched);
    assert.deepEqual(await inodes(), before);
  });

  it("missing answers from the store without opening the source, and reports nothing", async () => {
    const f = await fixture();
    const first = await pulling(f.ref, { root: f.root });
    await rm(f.layout, { recursive: true });
    const stored = await pulling(f.ref, { root: f.root, policy: "missing" });
    assert.equal(stored.fetched, false);
    assert.deepEqual(stored.events, []);
    assert.deepEqual(stored.result, { ...first.result, bytesFetched: 0 });
    // `always` does open it, and finds it gone.
    await assert.rejects(pull(f.ref, { root: f.root }));
  });

  it("missing pulls an image the store does not have", async () => {
    const f = await fixture();
    const r = await pulling(f.ref, { root: f.root, policy: "missing" });
    assert.ok(r.fetched);
    assert.equal(types(r.events)[0], "resolved");
    assert.ok(existsSync(r.result.module.path));
    const store = await ContentStore.open(f.root);
    assert.ok(await store.resolve(sourceName(f.ref)), "tagged");
  });

  for (const gone of ["module", "rootfs"] as const) {
    it(`missing pulls again when the ${gone} of the stored image is gone`, async () => {
      const f = await fixture();
      const first = await pulling(f.ref, { root: f.root });
      const path = gone === "module" ? first.result.module.path : first.result.rootfs!;
      await rm(path, { recursive: true });
      const again = await pulling(f.ref, { root: f.root, policy: "missing" });
      assert.ok(again.fetched);
      assert.ok(existsSync(path), `${path} is back`);
      assert.equal(again.result.module.digest, first.result.module.digest);
      assert.ok(existsSync(join(again.result.rootfs!, "hello.wasm")));
    });
  }

  it("never answers from the store, and is NotFound for an image it does not have, fetching nothing", async () => {
    const f = await fixture();
    let fetched = false;
    const events: PullEvent[] = [];
    await assert.rejects(
      pull(f.ref, {
        root: f.root,
        policy: "never",
        onEvent: (e) => events.push(e),
        onFetch: () => {
          fetched = true;
        },
      }),
      (err: unknown) => {
        assert.ok(err instanceof ShimError, String(err));
        assert.equal(err.code, Code.NotFound);
        assert.equal(
          err.rawMessage,
          `image ${sourceName(f.ref)} is not in the store and the pull policy is never; pull it first`,
        );
        return true;
      },
    );
    assert.equal(fetched, false);
    assert.deepEqual(events, []);
    assert.equal(await (await ContentStore.open(f.root)).resolve(sourceName(f.ref)), undefined);

    const first = await pulling(f.ref, { root: f.root });
    const stored = await pulling(f.ref, { root: f.root, policy: "never" });
    assert.equal(stored.fetched, false);
    assert.deepEqual(stored.events, []);
    assert.deepEqual(stored.result, { ...first.result, bytesFetched: 0 });
  });

  it("never is NotFound when the stored image lost its module", async () => {
    const f = await fixture();
    const first = await pulling(f.ref, { root: f.root });
    await rm(first.result.module.path);
    await assert.rejects(pull(f.ref, { root: f.root, policy: "never" }), { code: Code.NotFound });
  });

  it("the store's answer names the reference asked for, though its record came from another name", async () => {
    const f = await fixture();
    await pulling(f.ref, { root: f.root });
    const other = await pulling(f.other, { root: f.root });
    // Both tags name one manifest, whose record the second pull wrote.
    const stored = await pulling(f.ref, { root: f.root, policy: "missing" });
    assert.equal(stored.fetched, false);
    assert.equal(stored.result.name, sourceName(f.ref));
    assert.deepEqual({ ...stored.result, name: other.result.name }, other.result);
  });

  it("a reference that does not parse is InvalidArgument before the store is made", async () => {
    const root = join(tmp, "never-made");
    await assert.rejects(pull("Not Valid!", { root, policy: "missing" }), { code: Code.InvalidArgument });
    assert.equal(existsSync(root), false);
  });
});
