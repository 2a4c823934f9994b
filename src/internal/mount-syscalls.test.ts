import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "../../test/harness/index.js";
import { executableOnPath } from "./fs.js";
import { isMountPoint } from "./mount-info.js";
import { bindMounts, mountOverlay, unmountAll, unmountBelow } from "./mount-ops.js";
import { mountSyscalls, SyscallError } from "./mount-syscalls.js";

const skip =
  process.getuid?.() !== 0 ? "mounting needs root" : !executableOnPath("perl") ? "no perl here" : false;
const tmp = tempDir("nodewasi-mount-syscalls-");
after(async () => {
  await unmountBelow(tmp.dir);
  tmp.remove();
});

describe("the mount helper", { skip }, () => {
  it("mounts an overlay whose writes stay in its upper layer, and unmounts it, without mount(8)", async () => {
    const [lower, upper, work, merged] = ["lower", "upper", "work", "merged"].map((d) => join(tmp.dir, d));
    for (const d of [lower!, upper!, work!, merged!]) mkdirSync(d);
    writeFileSync(join(lower!, "a.txt"), "image\n");
    const helper = await mountSyscalls();
    assert.ok(helper, "as root with perl, the helper runs");
    await mountOverlay(lower!, upper!, work!, merged!);
    writeFileSync(join(merged!, "a.txt"), "task\n");
    assert.equal(readFileSync(join(lower!, "a.txt"), "utf8"), "image\n");
    assert.equal(readFileSync(join(upper!, "a.txt"), "utf8"), "task\n");
    await unmountAll(merged!);
    assert.equal(isMountPoint(merged!), false);
  });

  it("a failed call rejects with the kernel's errno and leaves the helper serving", async () => {
    const helper = (await mountSyscalls())!;
    const target = join(tmp.dir, "t1");
    mkdirSync(target);
    await assert.rejects(
      helper.mount(join(tmp.dir, "missing"), target, undefined, 0x1000),
      (e: SyscallError) => {
        return e instanceof SyscallError && e.errno === 2;
      },
    );
    await assert.rejects(helper.umount(target), (e: SyscallError) => e.errno === 22); // not a mount point
    await helper.mount(tmp.dir, target, undefined, 0x1000);
    assert.ok(isMountPoint(target));
    await helper.umount(target);
    assert.equal(isMountPoint(target), false);
  });

  it("a helper that was killed is started again for the next call", async () => {
    const first = (await mountSyscalls())!;
    process.kill(first.pid!, "SIGKILL");
    while (!first.dead) await new Promise((r) => setTimeout(r, 10));
    const second = (await mountSyscalls())!;
    assert.notEqual(second.pid, first.pid);
    const target = join(tmp.dir, "t2");
    mkdirSync(target);
    await bindMounts([{ source: tmp.dir, target }], join(tmp.dir, "t2.fstab"));
    assert.ok(isMountPoint(target));
    assert.equal(existsSync(join(tmp.dir, "t2.fstab")), false, "no fstab: the binds went through the helper");
    await unmountBelow(tmp.dir);
  });

  it("without perl, binds go through one mount(8) call over an fstab, and unmount with umount(8)", () => {
    // A process whose PATH has mount and umount but no perl.
    const bin = join(tmp.dir, "bin");
    mkdirSync(bin);
    for (const tool of ["mount", "umount"]) symlinkSync(executableOnPath(tool)!, join(bin, tool));
    const target = join(tmp.dir, "t3");
    mkdirSync(target);
    const ops = fileURLToPath(new URL("./mount-ops.js", import.meta.url));
    const script = `
      const { bindMounts, unmountBelow } = await import(${JSON.stringify(ops)});
      const { isMountPoint } = await import(${JSON.stringify(fileURLToPath(new URL("./mount-info.js", import.meta.url)))});
      await bindMounts([{ source: ${JSON.stringify(tmp.dir)}, target: ${JSON.stringify(target)}, readOnly: true }], ${JSON.stringify(join(tmp.dir, "t3.fstab"))});
      const mounted = isMountPoint(${JSON.stringify(target)});
      await unmountBelow(${JSON.stringify(tmp.dir)});
      console.log(JSON.stringify({ mounted, after: isMountPoint(${JSON.stringify(target)}) }));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { PATH: bin },
      encoding: "utf8",
    });
    assert.deepEqual(JSON.parse(out), { mounted: true, after: false });
    assert.ok(existsSync(join(tmp.dir, "t3.fstab")), "the fstab mount(8) read");
  });
});
