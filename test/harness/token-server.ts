/**
 * A bearer token server for distribution's `auth: token` (docs/spec/auth/token.md, jwt.md), written for
 * tests: node:http on 127.0.0.1:0, Basic credentials checked against a per-user policy, only the allowed
 * actions granted, every request recorded so tests can assert the scopes a client asked for.
 *
 * Tokens are JWTs signed RS256 with a key and self-signed certificate made by the `openssl` CLI. The header
 * carries the certificate in `x5c`: distribution 2.8 (registry/auth/token/token.go `VerifySigningKey`) tries
 * `x5c` first and verifies the chain against `rootcertbundle`, which is this same certificate. The audience
 * is the service name and the issuer must equal the registry's `issuer` setting.
 */
import { execFileSync } from "node:child_process";
import { createPrivateKey, type KeyObject, randomUUID, sign, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, listen } from "./net.js";

/** Repository name (or `*`) -> allowed actions (`pull`, `push`, `delete`, `*`). */
export type AccessPolicy = Record<string, string[]>;

export interface TokenServerOptions {
  /** Users with their password and what they may do. */
  users?: Record<string, { password: string; access: AccessPolicy }>;
  /** What a request without credentials may do; undefined: anonymous requests get 401. */
  anonymous?: AccessPolicy;
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
}

/** One request to the token endpoint, as received. */
export interface TokenRequest {
  method: string;
  /** The authenticated user, `""` for anonymous, undefined when authentication failed. */
  user: string | undefined;
  service: string | null;
  /** Every `scope` asked for, as sent (`repository:foo:pull,push`). */
  scopes: string[];
  /** What was granted, `repository:foo:pull`. */
  granted: string[];
  status: number;
  /** The token issued, when one was (tests search logs for it). */
  token?: string;
}

export interface TokenServer {
  /** The token endpoint URL (`http://127.0.0.1:PORT/token`). */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate the registry trusts (`rootcertbundle`). */
  certPath: string;
  requests: TokenRequest[];
  /** Issues a token directly (for the harness's own pushes). */
  issue(user: string, scopes: string[]): string;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

function parseBasic(req: IncomingMessage): { user: string; password: string } | undefined {
  const h = req.headers.authorization;
  if (!h?.toLowerCase().startsWith("basic ")) return undefined;
  const text = Buffer.from(h.slice(6).trim(), "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i < 0) return undefined;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

function allowedActions(policy: AccessPolicy | undefined, repo: string): Set<string> {
  const out = new Set<string>();
  for (const [name, actions] of Object.entries(policy ?? {})) {
    if (name === "*" || name === repo) for (const a of actions) out.add(a);
  }
  return out;
}

/** Starts a token server; the registry is then started with `startRegistry({ token })`. */
export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-token-"));
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
    ].concat(["-subj", "/CN=nodewasi-test-token-issuer"]),
    { stdio: "ignore" },
  );
  const key: KeyObject = createPrivateKey(readFileSync(keyPath));
  const certDer = new X509Certificate(readFileSync(certPath)).raw;
  const service = "nodewasi-test-registry";
  const issuer = "nodewasi-test-issuer";
  const expiresIn = opts.expiresIn ?? 300;
  const requests: TokenRequest[] = [];

  /** Grants the intersection of what was asked and what the policy allows. */
  const grant = (policy: AccessPolicy | undefined, scopes: string[]) => {
    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const scope of scopes) {
      // scope = type:name:actions, where name may contain ':' (a registry host with a port).
      const first = scope.indexOf(":");
      const last = scope.lastIndexOf(":");
      if (first < 0 || last === first) continue;
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const asked = scope
        .slice(last + 1)
        .split(",")
        .filter(Boolean);
      if (type !== "repository") continue;
      const allowed = allowedActions(policy, name);
      const actions = asked.filter((a) => allowed.has(a) || allowed.has("*"));
      if (actions.length) access.push({ type, name, actions });
    }
    return access;
  };

  const issueToken = (user: string, access: { type: string; name: string; actions: string[] }[]) => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "RS256", x5c: [certDer.toString("base64")] };
    const claims = {
      iss: issuer,
      sub: user,
      aud: service,
      exp: now + expiresIn,
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${signing}.${b64url(sign("sha256", Buffer.from(signing), key))}`;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const scopes = url.searchParams
      .getAll("scope")
      .flatMap((s) => s.split(" "))
      .filter(Boolean);
    let creds = parseBasic(req);
    if (req.method === "POST") {
      // OAuth2 password grant (token.md "oauth"): form fields instead of Basic.
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      for (const s of form.getAll("scope")) scopes.push(...s.split(" ").filter(Boolean));
      if (form.get("grant_type") === "password") {
        creds = { user: form.get("username") ?? "", password: form.get("password") ?? "" };
      }
    }
    const record: TokenRequest = {
      method: req.method ?? "GET",
      user: undefined,
      service: url.searchParams.get("service"),
      scopes,
      granted: [],
      status: 0,
    };
    requests.push(record);
    let policy: AccessPolicy | undefined;
    if (creds) {
      const u = opts.users?.[creds.user];
      if (!u || u.password !== creds.password) {
        record.status = 401;
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }));
        return;
      }
      record.user = creds.user;
      policy = u.access;
    } else if (opts.anonymous) {
      record.user = "";
      policy = opts.anonymous;
    } else {
      record.status = 401;
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Basic realm="token"' });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "credentials required" }] }));
      return;
    }
    const access = grant(policy, scopes);
    record.granted = access.map((a) => `${a.type}:${a.name}:${a.actions.join(",")}`);
    const token = issueToken(record.user, access);
    record.token = token;
    record.status = 200;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: expiresIn,
        issued_at: new Date().toISOString(),
      }),
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  const host = await listen(server);
  return {
    realm: `http://${host}/token`,
    service,
    issuer,
    certPath,
    requests,
    issue: (user, scopes) =>
      issueToken(user, grant(user ? opts.users?.[user]?.access : opts.anonymous, scopes)),
    async stop() {
      await close(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
