import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { defaultRoot, defaultRuntimeDir } from "./paths.js";

const asRoot = process.getuid?.() === 0;

describe("state paths", () => {
  it("$NODEWASI_ROOT wins over everything", () => {
    assert.equal(defaultRoot({ NODEWASI_ROOT: "/srv/nw", XDG_DATA_HOME: "/x" }), "/srv/nw");
  });

  it("as root: /var/lib/nodewasi and /run/nodewasi, whatever XDG says", {
    skip: !asRoot && "needs root",
  }, () => {
    assert.equal(defaultRoot({ XDG_DATA_HOME: "/x" }), "/var/lib/nodewasi");
    assert.equal(defaultRuntimeDir({ XDG_RUNTIME_DIR: "/run/user/1000" }), "/run/nodewasi");
  });

  it("as a user: under XDG folders, else under home", () => {
    // Asked of a child process, which root runs as nobody: the answer depends on the caller's uid.
    const script = `
      const { defaultRoot, defaultRuntimeDir } = await import(${JSON.stringify(new URL("./paths.js", import.meta.url).href)});
      process.stdout.write(JSON.stringify([
        defaultRoot({ XDG_DATA_HOME: "/x" }), defaultRoot({ XDG_DATA_HOME: "" }),
        defaultRuntimeDir({ XDG_RUNTIME_DIR: "/run/user/1000" }), defaultRuntimeDir({}),
      ]));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { HOME: "/home/u" },
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    assert.deepEqual(JSON.parse(out.toString()), [
      "/x/nodewasi",
      "/home/u/.local/share/nodewasi",
      "/run/user/1000/nodewasi",
      "/home/u/.cache/nodewasi",
    ]);
  });
});
