import assert from "node:assert/strict";
import { homedir } from "node:os";
import { join } from "node:path";
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

  it("as a user: under XDG folders, else under home", { skip: asRoot && "needs a non-root user" }, () => {
    assert.equal(defaultRoot({ XDG_DATA_HOME: "/x" }), "/x/nodewasi");
    assert.equal(defaultRoot({ XDG_DATA_HOME: "" }), join(homedir(), ".local", "share", "nodewasi"));
    assert.equal(defaultRuntimeDir({ XDG_RUNTIME_DIR: "/run/user/1000" }), "/run/user/1000/nodewasi");
    assert.equal(defaultRuntimeDir({}), join(homedir(), ".cache", "nodewasi"));
  });
});
