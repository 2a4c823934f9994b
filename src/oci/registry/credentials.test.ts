/** Credential lookup from real files in a temp HOME and a real credential helper script on PATH. */
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../internal/index.js";
import { runCredentialHelper } from "./credential-helper.js";
import { configKeyHost, DockerCredentials } from "./credentials.js";

let home: string;
let bin: string;
const b64 = (s: string) => Buffer.from(s).toString("base64");

before(async () => {
  home = await mkdtemp(join(tmpdir(), "nodewasi-creds-"));
  bin = join(home, "bin");
  await mkdir(bin);
  // A credential helper in the docker protocol: reads the server URL on stdin, answers by URL.
  await writeFile(
    join(bin, "docker-credential-test"),
    `#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
case "$server" in
  helper.example) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-pass"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"<token>","Secret":"hub-identity"}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
  );
  await chmod(join(bin, "docker-credential-test"), 0o755);
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

async function writeConfig(dir: string, config: unknown): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "config.json"), JSON.stringify(config));
}
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: `${bin}:/usr/bin:/bin`,
  HOME: home,
  ...extra,
});

describe("DockerCredentials", () => {
  it("maps config keys to hosts", () => {
    assert.equal(configKeyHost("https://index.docker.io/v1/"), "docker.io");
    assert.equal(configKeyHost("registry-1.docker.io"), "docker.io");
    assert.equal(configKeyHost("https://GHCR.io"), "ghcr.io");
    assert.equal(configKeyHost("quay.io/org/repo"), "quay.io");
    assert.equal(configKeyHost("localhost:5000"), "localhost:5000");
  });

  it("reads auths: base64 auth, username/password, identity and registry tokens, URL keys", async () => {
    const dir = join(home, "d1");
    await writeConfig(dir, {
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
        "https://ghcr.io": { username: "gh", password: "ghp" },
        "quay.io": { identitytoken: "quay-id" },
        "reg.example:5000": { registrytoken: "rt" },
        "broken.example": { auth: b64("nocolon") },
      },
    });
    const c = new DockerCredentials({ env: env({ DOCKER_CONFIG: dir }) });
    assert.deepEqual(await c.get("docker.io"), { username: "hubuser", password: "hub:pass" });
    assert.deepEqual(await c.get("ghcr.io"), { username: "gh", password: "ghp" });
    assert.deepEqual(await c.get("quay.io"), { identityToken: "quay-id" });
    assert.deepEqual(await c.get("reg.example:5000"), { registryToken: "rt" });
    assert.equal(await c.get("broken.example"), undefined);
    assert.equal(await c.get("elsewhere.example"), undefined);
  });

  it("runs credHelpers and credsStore helpers with the server URL on stdin", async () => {
    const dir = join(home, "d2");
    await writeConfig(dir, {
      credHelpers: { "helper.example": "test" },
      credsStore: "test",
      auths: { "fallback.example": { auth: b64("fb:pw") } },
    });
    const c = new DockerCredentials({ env: env({ DOCKER_CONFIG: dir }) });
    assert.deepEqual(await c.get("helper.example"), { username: "helper-user", password: "helper-pass" });
    // credsStore for Docker Hub: `<token>` user means an identity token; the hub key is the v1 URL.
    assert.deepEqual(await c.get("docker.io"), { identityToken: "hub-identity" });
    // The store has nothing for this one (exit 1): auths still apply.
    assert.deepEqual(await c.get("fallback.example"), { username: "fb", password: "pw" });
  });

  it("a missing helper gives no credentials and a debug line without secrets", async () => {
    const dir = join(home, "d3");
    await writeConfig(dir, { credsStore: "absent", auths: { "x.example": { auth: b64("u:topsecret") } } });
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const c = new DockerCredentials({ env: env({ DOCKER_CONFIG: dir }), logger });
    assert.equal(await c.get("y.example"), undefined);
    assert.ok(
      lines.some((l) => l.includes("docker-credential-absent")),
      lines.join(""),
    );
    assert.deepEqual(await c.get("x.example"), { username: "u", password: "topsecret" });
    assert.ok(lines.every((l) => !l.includes("topsecret")));
  });

  it("falls back to ~/.docker/config.json, then Podman's auth.json files", async () => {
    const h = join(home, "h4");
    await writeConfig(join(h, ".docker"), { auths: { "docker.example": { auth: b64("d:1") } } });
    await mkdir(join(h, ".config", "containers"), { recursive: true });
    await writeFile(
      join(h, ".config", "containers", "auth.json"),
      JSON.stringify({ auths: { "podman.example/org/repo": { auth: b64("p:2") } } }),
    );
    await mkdir(join(h, "run", "containers"), { recursive: true });
    await writeFile(
      join(h, "run", "containers", "auth.json"),
      JSON.stringify({ auths: { "run.example": { auth: b64("r:3") } } }),
    );
    await writeFile(
      join(h, "explicit.json"),
      JSON.stringify({ auths: { "explicit.example": { auth: b64("e:4") } } }),
    );
    const c = new DockerCredentials({
      env: env({ HOME: h, XDG_RUNTIME_DIR: join(h, "run"), REGISTRY_AUTH_FILE: join(h, "explicit.json") }),
    });
    assert.deepEqual(await c.get("docker.example"), { username: "d", password: "1" });
    assert.deepEqual(await c.get("podman.example"), { username: "p", password: "2" });
    assert.deepEqual(await c.get("run.example"), { username: "r", password: "3" });
    assert.deepEqual(await c.get("explicit.example"), { username: "e", password: "4" });
  });

  it("ignores a config file that is not JSON (with a warning naming the file)", async () => {
    const dir = join(home, "d5");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "config.json"), "{not json");
    const lines: string[] = [];
    const c = new DockerCredentials({
      env: env({ DOCKER_CONFIG: dir, HOME: join(home, "nohome") }),
      logger: createLogger({ write: (l) => lines.push(l) }),
    });
    assert.equal(await c.get("ghcr.io"), undefined);
    assert.match(lines.join(""), /not valid JSON.*d5\/config\.json/);
  });
});

describe("runCredentialHelper", () => {
  it("kills a helper that hangs, and refuses helper names with a path", async () => {
    await writeFile(join(bin, "docker-credential-hang"), "#!/bin/sh\nexec sleep 30\n");
    await chmod(join(bin, "docker-credential-hang"), 0o755);
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const t0 = Date.now();
    assert.equal(
      await runCredentialHelper("hang", "x.example", { env: env(), logger, timeoutMs: 200 }),
      undefined,
    );
    assert.ok(Date.now() - t0 < 5000);
    assert.match(lines.join(""), /docker-credential-hang.*killed by SIGKILL/);
    assert.equal(await runCredentialHelper("../../bin/sh", "x.example", { env: env(), logger }), undefined);
  });
});
