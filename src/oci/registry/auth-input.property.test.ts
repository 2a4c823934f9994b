/**
 * Hostile authentication input (issue 6 item 3): `WWW-Authenticate` headers from a registry, and the
 * docker/podman credential files on disk. Parsing a header never throws, ends in time linear in its length,
 * and reads back what a well-formed header says; a credentials file of any shape gives string credentials or
 * none, and starts no helper that the file does not name with a string.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { anyJson, checkProperty, deepJson, mutatedJson } from "../../../test/harness/property.js";
import { parseChallenges } from "./challenge.js";
import { DockerCredentials } from "./credentials.js";

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,8}$/);
/** Header text from the pieces the tokenizer branches on. */
const headerPiece = fc.constantFrom(
  "Bearer",
  "basic",
  " ",
  "\t",
  ",",
  "=",
  "==",
  '"',
  "\\",
  "realm",
  "a",
  "/",
  "é",
  "",
);

describe("WWW-Authenticate parsing (property)", () => {
  it("never throws and returns well-formed challenges for any header", async () => {
    await checkProperty(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.array(headerPiece, { maxLength: 30 }).map((p) => p.join("")),
        ),
        (h) => {
          for (const c of parseChallenges(h)) {
            assert.ok(c.scheme.length > 0 && [...c.scheme].every((ch) => TCHARS.includes(ch)), c.scheme);
            assert.equal(c.scheme, c.scheme.toLowerCase());
            for (const [k, v] of Object.entries(c.params)) {
              assert.equal(k, k.toLowerCase());
              assert.equal(typeof v, "string");
            }
          }
        },
      ),
      3000,
    );
  });

  it("reads back the parameters of well-formed challenges", async () => {
    const name = fc.oneof(token, fc.constantFrom("realm", "service", "scope", "__proto__", "constructor"));
    const value = fc.string({ maxLength: 12 }).filter((v) => !v.includes("\0"));
    const challenge = fc.record({
      scheme: token,
      params: fc.uniqueArray(fc.tuple(name, value), {
        minLength: 1,
        maxLength: 4,
        selector: ([k]) => k.toLowerCase(),
      }),
    });
    await checkProperty(
      fc.property(fc.array(challenge, { minLength: 1, maxLength: 3 }), (cs) => {
        const quote = (v: string) => `"${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
        const header = cs
          .map((c) => `${c.scheme} ${c.params.map(([k, v]) => `${k}=${quote(v)}`).join(", ")}`)
          .join(", ");
        const parsed = parseChallenges(header);
        // Entries sorted: an object lists integer-like keys ("0") first, whatever the header's order.
        const sorted = (e: [string, string][]) => e.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        assert.deepEqual(
          parsed.map((c) => [c.scheme, sorted(Object.entries(c.params))]),
          cs.map((c) => [c.scheme.toLowerCase(), sorted(c.params.map(([k, v]) => [k.toLowerCase(), v]))]),
          header,
        );
      }),
      1000,
    );
  });

  it("parses 200 KB of any repeated piece within a second (no quadratic rescans)", () => {
    for (const piece of ["a ", "a=", 'a="', "a,", "a==", ", ", "Bearer a=b,", "\\", "x y z", "=", '"']) {
      const header = piece.repeat(Math.ceil(200_000 / piece.length));
      const started = Date.now();
      parseChallenges(header);
      const ms = Date.now() - started;
      assert.ok(ms < 1000, `${JSON.stringify(piece)} x ${header.length / piece.length}: ${ms} ms`);
    }
  });

  it("regression: a parameter named __proto__ is kept as data", () => {
    const [c] = parseChallenges('Bearer __proto__="x", realm="r"');
    assert.deepEqual(Object.entries(c!.params), [
      ["__proto__", "x"],
      ["realm", "r"],
    ]);
    assert.equal(Object.getPrototypeOf(c!.params), Object.prototype);
  });
});

describe("credential files of any shape (property)", () => {
  let home: string;
  let bin: string;
  let calls: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), "nodewasi-creds-prop-"));
    bin = join(home, "bin");
    calls = join(home, "calls");
    await mkdir(bin);
    // Any helper the lookup starts records its name; none of them has credentials.
    for (const name of ["5", "x", "true", "null"]) {
      const helper = join(bin, `docker-credential-${name}`);
      await writeFile(helper, `#!/bin/sh\necho ${name} >> ${calls}\nexit 1\n`);
      await chmod(helper, 0o755);
    }
  });
  after(() => rm(home, { recursive: true, force: true }));

  const good = {
    auths: {
      "ghcr.io": { auth: Buffer.from("u:p").toString("base64") },
      "https://index.docker.io/v1/": { username: "a", password: "b", identitytoken: "t" },
    },
    credHelpers: { "quay.io": "x" },
    credsStore: "x",
  };

  it("gives string credentials or none, and runs only helpers named by a string", async () => {
    await checkProperty(
      fc.asyncProperty(
        fc.oneof(
          mutatedJson(good).map((v) => JSON.stringify(v) ?? ""),
          anyJson.map((v) => JSON.stringify(v) ?? ""),
          fc.constantFrom(deepJson(50_000, "object"), deepJson(50_000, "array"), "{", ""),
          // Regression: a helper named by a number or an array ran (docker-credential-5).
          fc.constantFrom(
            '{"credsStore":5}',
            '{"credsStore":["x"]}',
            '{"credHelpers":{"ghcr.io":true}}',
            '{"credHelpers":"x"}',
            '{"credHelpers":["x"]}',
            '{"auths":{"ghcr.io":null}}',
          ),
        ),
        fc.constantFrom("ghcr.io", "docker.io", "quay.io", "0"),
        async (text, registry) => {
          await writeFile(join(home, "config.json"), text);
          await rm(calls, { force: true });
          const creds = await new DockerCredentials({
            env: { PATH: bin, HOME: home, DOCKER_CONFIG: home },
            home,
          }).get(registry);
          if (creds !== undefined) {
            for (const [k, v] of Object.entries(creds)) {
              assert.ok(["username", "password", "identityToken", "registryToken"].includes(k), k);
              assert.equal(typeof v, "string");
            }
          }
          const ran = (await readFile(calls, "utf8").catch(() => "")).split("\n").filter(Boolean);
          const allowed = helpersNamed(text);
          for (const helper of ran)
            assert.ok(allowed.has(helper), `helper ${helper} ran; the file says ${text}`);
        },
      ),
      150,
    );
  });
});

/** The helper names a config file gives as strings (credsStore and the values of credHelpers). */
function helpersNamed(text: string): Set<string> {
  const names = new Set<string>();
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch {
    return names;
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  if (!isObject(cfg)) return names;
  if (typeof cfg.credsStore === "string") names.add(cfg.credsStore);
  if (isObject(cfg.credHelpers) && !Array.isArray(cfg.credHelpers))
    for (const v of Object.values(cfg.credHelpers)) if (typeof v === "string") names.add(v);
  return names;
}
