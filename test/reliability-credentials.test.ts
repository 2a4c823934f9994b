/**
 * Credentials never show (issue 6, item 4): pulls with htpasswd Basic auth and with bearer tokens, through the
 * CLI with `--debug` and through a `--debug` shim's Images.Pull, with a retried 503 in the way (so the retry
 * logs run too), and with wrong passwords (so the error paths run). Everything printed (stdout, stderr, the
 * shim's log) is searched for each password, each `user:password` in base64 (the Basic header and
 * config.json's `auth`) and every token the token server issued.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Images } from "../src/gen/index.js";
import { buildImage } from "../src/oci/build/build.js";
import { type FaultProxy, startFaultProxy } from "./harness/fault-proxy.js";
import { helloModule } from "./harness/modules.js";
import { pushBuilt } from "./harness/push.js";
import { type Registry, registrySkipReason, startRegistry, toolSkipReason } from "./harness/registry.js";
import { recordFigures } from "./harness/reliability.js";
import { REPO_ROOT, startShim } from "./harness/shim.js";
import { startTokenServer, type TokenServer } from "./harness/token-server.js";

const skip = registrySkipReason() ?? toolSkipReason("wat2wasm", "htpasswd", "openssl");
const BIN = join(REPO_ROOT, "bin", "nodewasi");
const BASIC = { user: "alice", password: "basic-Pw-7f3a9c" };
const READER = { user: "reader", password: "token-Pw-51d2e8" };
const WRONG = "wrong-Pw-0b6c4d";

/** Runs `nodewasi ARGS` with `env`; resolves with its exit code and both outputs. */
function cli(args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` }),
    );
  });
}

describe("credentials never appear in output, logs or errors", { skip: skip ?? false }, () => {
  let dir: string;
  let basicRegistry: Registry;
  let proxy: FaultProxy;
  let tokenProxy: FaultProxy;
  let tokens: TokenServer;
  let tokenRegistry: Registry;
  /** Docker config dirs by name: right and wrong credentials for both registries. */
  const configs: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nodewasi-creds-"));
    basicRegistry = await startRegistry({ htpasswd: BASIC });
    const image = buildImage({ module: helloModule("hello from behind auth"), format: "image" });
    await pushBuilt(basicRegistry.host, "private/app:v1", image, BASIC);
    proxy = await startFaultProxy(basicRegistry.host);
    tokens = await startTokenServer({
      users: {
        admin: { password: "admin-pass", access: { "*": ["pull", "push"] } },
        [READER.user]: { password: READER.password, access: { "team/app": ["pull"] } },
      },
    });
    tokenRegistry = await startRegistry({ token: tokens });
    await pushBuilt(tokenRegistry.host, "team/app:v1", image, { user: "admin", password: "admin-pass" });
    tokenProxy = await startFaultProxy(tokenRegistry.host);
    const write = async (name: string, auths: Record<string, { user: string; password: string }>) => {
      const d = join(dir, name);
      const body = Object.fromEntries(
        Object.entries(auths).map(([h, c]) => [
          h,
          { auth: Buffer.from(`${c.user}:${c.password}`).toString("base64") },
        ]),
      );
      await rm(d, { recursive: true, force: true });
      await mkdir(d, { recursive: true });
      await writeFile(join(d, "config.json"), JSON.stringify({ auths: body }), { mode: 0o600 });
      configs[name] = d;
    };
    await write("right", { [proxy.host]: BASIC, [tokenProxy.host]: READER });
    await write("wrong", {
      [proxy.host]: { ...BASIC, password: WRONG },
      [tokenProxy.host]: { ...READER, password: WRONG },
    });
  });
  after(async () => {
    await proxy?.stop();
    await tokenProxy?.stop();
    await basicRegistry?.stop();
    await tokenRegistry?.stop();
    await tokens?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Every secret in play: passwords, their base64 `user:password`, and every token issued so far. */
  const secrets = () => {
    const pairs = [BASIC, READER, { ...BASIC, password: WRONG }, { ...READER, password: WRONG }];
    return [
      BASIC.password,
      READER.password,
      WRONG,
      ...pairs.map((c) => Buffer.from(`${c.user}:${c.password}`).toString("base64")),
      ...tokens.requests.flatMap((r) => (r.token ? [r.token, r.token.split(".")[2]!] : [])),
    ];
  };
  const assertClean = (what: string, text: string) => {
    for (const s of secrets())
      assert.ok(!text.includes(s), `${what} shows a secret (${s.slice(0, 6)}...):\n${text}`);
  };
  /** A 503 on the first manifest request through either proxy, so `--debug` logs a retry. */
  const fault503 = () => {
    for (const p of [proxy, tokenProxy])
      p.setRules([{ method: "GET", path: /\/manifests\//, fault: { kind: "status", status: 503 } }]);
  };
  const refs = () => [`${proxy.host}/private/app:v1`, `${tokenProxy.host}/team/app:v1`];

  it("nodewasi --debug pull, right and wrong credentials, Basic and bearer: no secret printed", async (t) => {
    let runs = 0;
    for (const config of ["right", "wrong"]) {
      for (const ref of refs()) {
        fault503();
        const root = join(dir, `root-${runs}`);
        const env = { ...process.env, DOCKER_CONFIG: configs[config] };
        const r = await cli(["--debug", "--root", root, "pull", ref], env);
        runs++;
        if (config === "right") {
          assert.equal(r.code, 0, r.out);
          assert.match(r.out, /retrying registry request/, "the retry was logged");
        } else {
          assert.equal(r.code, 4, r.out);
          assert.match(r.out, /denied|unauthorized|authentication|credentials/i, r.out);
        }
        assertClean(`pull ${ref} with ${config} credentials`, r.out);
      }
    }
    assert.ok(
      tokens.requests.some((r) => r.token),
      "tokens were issued",
    );
    recordFigures(t, {
      pulls: runs,
      "auth schemes": "Basic, bearer token",
      "failed logins": 2,
      "secrets searched for": "passwords, base64 user:password, tokens",
      "secrets found": 0,
    });
  });

  it("a --debug shim pulling for a client: its log and its errors hold no secret", async (t) => {
    let pulls = 0;
    for (const config of ["right", "wrong"]) {
      const shim = await startShim({ env: { ...process.env, DOCKER_CONFIG: configs[config] } });
      try {
        const images = shim.client(Images, { timeoutMs: 60_000 });
        for (const ref of refs()) {
          fault503();
          pulls++;
          const pulling = (async () => {
            for await (const p of images.pull({ reference: ref })) if (p.event.case === "result") return true;
            return false;
          })();
          if (config === "right") assert.ok(await pulling, `${ref} pulled`);
          else {
            await assert.rejects(pulling, (err: Error) => {
              assertClean(`the shim's error for ${ref}`, `${err.message}\n${String(err.cause ?? "")}`);
              return true;
            });
          }
        }
        assertClean(`the shim's log (${config} credentials)`, shim.stderr());
      } finally {
        await shim.stop();
      }
    }
    recordFigures(t, { pulls, "failed logins": 2, "secrets found": 0 });
  });
});
