import assert from "node:assert/strict";
import { posix } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DEFAULT_UNPACK_LIMITS } from "./unpack-limits.js";
import { parseEntryPath, symlinkTargetError } from "./unpack-path.js";

/** Path-ish strings built from the components that matter for escapes. */
const pathArb = fc
  .array(fc.constantFrom("a", "b", "..", ".", "", "c.wasm"), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join("/"));

describe("parseEntryPath", () => {
  it("accepts only names that stay under the root, unchanged in meaning", () => {
    fc.assert(
      fc.property(fc.boolean(), pathArb, (abs, p) => {
        const name = abs ? `/${p}` : p;
        const r = parseEntryPath(name, DEFAULT_UNPACK_LIMITS);
        if ("error" in r) return;
        const joined = posix.join("/root", ...r.parts);
        assert.ok(joined === "/root" || joined.startsWith("/root/"), joined);
        assert.equal(joined, posix.join("/root", name).replace(/(.)\/$/, "$1"));
        assert.ok(!r.parts.includes("..") && !r.parts.includes(".") && !r.parts.includes(""));
      }),
    );
  });

  it("says why a name is refused", () => {
    const l = DEFAULT_UNPACK_LIMITS;
    assert.deepEqual(parseEntryPath("./a//b/", l), { parts: ["a", "b"] });
    assert.match((parseEntryPath("/etc/passwd", l) as { error: string }).error, /absolute/);
    assert.match((parseEntryPath("a/../b", l) as { error: string }).error, /`\.\.`/);
    assert.match((parseEntryPath("a\0b", l) as { error: string }).error, /NUL/);
    assert.match((parseEntryPath("x".repeat(256), l) as { error: string }).error, /longer than 255/);
  });
});

describe("symlinkTargetError", () => {
  it("accepts a target only when the kernel's walk from the link's directory stays inside", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b"), { minLength: 1, maxLength: 4 }),
        pathArb.filter((t) => t !== ""),
        (parts, target) => {
          const why = symlinkTargetError(parts, target);
          // Walk as the kernel does when every component is a directory, clamping nothing.
          // A `..` after another component is refused too (a guest could redirect that component).
          let depth = parts.length - 1;
          let escaped = false;
          let detour = false;
          let named = false;
          for (const c of target.split("/")) {
            if (c === "" || c === ".") continue;
            depth += c === ".." ? -1 : 1;
            if (depth < 0) escaped = true;
            if (c === ".." && named) detour = true;
            named = c !== "..";
          }
          assert.equal(
            why !== undefined,
            escaped || detour || target.startsWith("/"),
            `${parts.join("/")} -> ${target}`,
          );
        },
      ),
    );
  });

  it("refuses absolute and climbing targets by name", () => {
    assert.match(symlinkTargetError(["l"], "/etc") ?? "", /is absolute/);
    assert.match(symlinkTargetError(["l"], "..") ?? "", /climbs out/);
    assert.match(symlinkTargetError(["d", "l"], "x/../../..") ?? "", /climbs out/);
    assert.equal(symlinkTargetError(["d", "l"], "../x"), undefined);
    assert.match(symlinkTargetError(["d", "e", "l"], "up/..") ?? "", /`\.\.` after another component/);
    assert.match(symlinkTargetError(["d", "l"], "../x/../y") ?? "", /`\.\.` after another component/);
    assert.match(symlinkTargetError(["l"], "") ?? "", /empty/);
  });
});
