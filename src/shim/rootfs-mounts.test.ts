import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { MountSchema } from "../gen/index.js";
import { Code, isMountPoint, ShimError } from "../internal/index.js";
import { mountRootfs, unmountRootfs } from "./rootfs-mounts.js";

/** Why a real overlay mount cannot be tried here, or undefined when it can. */
function overlayUnavailable(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return "not root: mount(8) needs CAP_SYS_ADMIN";
  const d = (n: string) => join(dir, "probe", n);
  try {
    execFileSync("mkdir", ["-p", d("l"), d("u"), d("w"), d("m")]);
    execFileSync(
      "mount",
      ["-t", "overlay", "overlay", "-o", `lowerdir=${d("l")},upperdir=${d("u")},workdir=${d("w")}`, d("m")],
      {
        stdio: "ignore",
      },
    );
    execFileSync("umount", [d("m")]);
    return undefined;
  } catch (err) {
    return `mount -t overlay fails here: ${(err as Error).message}`;
  }
}

describe("mountRootfs", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-rootfs-"));
  });
  after(async () => {
    await unmountRootfs(join(dir, "bundle", "rootfs")).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  test("a bind mount (native snapshotter) is read in place, with nothing to undo", async () => {
    const m = create(MountSchema, { type: "bind", source: "/some/snapshot", options: ["rbind", "rw"] });
    const got = await mountRootfs([m], join(dir, "unused"));
    assert.deepEqual(got, { rootfs: "/some/snapshot" });
  });

  test("other types, or several mounts, are FailedPrecondition naming them", async () => {
    for (const mounts of [
      [create(MountSchema, { type: "tmpfs", source: "tmpfs" })],
      [
        create(MountSchema, { type: "bind", source: "/a" }),
        create(MountSchema, { type: "bind", source: "/b" }),
      ],
      [],
    ]) {
      await assert.rejects(mountRootfs(mounts, join(dir, "x")), (err: unknown) => {
        assert.ok(err instanceof ShimError);
        assert.equal(err.code, Code.FailedPrecondition);
        return true;
      });
    }
  });

  test("an overlay mount (overlayfs snapshotter) is mounted onto the target and unmounted by cleanup", async (t) => {
    const why = overlayUnavailable(dir);
    if (why) return t.skip(why);
    const lower = join(dir, "lower");
    const upper = join(dir, "upper");
    const work = join(dir, "work");
    for (const d of [lower, upper, work]) await mkdir(d, { recursive: true });
    await writeFile(join(lower, "hello.wasm"), "lower");
    const target = join(dir, "bundle", "rootfs");
    const m = create(MountSchema, {
      type: "overlay",
      source: "overlay",
      options: ["index=off", `workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower}`],
    });
    const got = await mountRootfs([m], target);
    assert.equal(got.rootfs, target);
    assert.ok(got.cleanup);
    assert.equal(isMountPoint(target), true);
    assert.equal(await readFile(join(target, "hello.wasm"), "utf8"), "lower");
    await writeFile(join(target, "new"), "x");
    assert.equal(await readFile(join(upper, "new"), "utf8"), "x");
    await got.cleanup();
    assert.equal(isMountPoint(target), false);
    await got.cleanup(); // idempotent
  });

  test("a failing overlay mount is Internal with mount's message", async (t) => {
    if (process.getuid?.() !== 0) return t.skip("not root");
    const m = create(MountSchema, {
      type: "overlay",
      source: "overlay",
      options: [`lowerdir=${join(dir, "nope")}`],
    });
    await assert.rejects(mountRootfs([m], join(dir, "bad")), (err: unknown) => {
      assert.ok(err instanceof ShimError);
      assert.equal(err.code, Code.Internal);
      assert.match(err.message, /mount -t overlay/);
      return true;
    });
  });
});
