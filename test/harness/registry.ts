/**
 * A real OCI registry for integration tests: Debian's `docker-registry` (distribution 2.8.2) started on a free
 * loopback port with filesystem storage in a fresh temp dir, optionally behind htpasswd Basic auth or a bearer
 * token server (token-server.ts). One registry per test file (start in `before`, stop in `after`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForHttp } from "./net.js";
import type { TokenServer } from "./token-server.js";

export interface RegistryOptions {
  /** Protect the registry with htpasswd Basic auth for this one user. */
  htpasswd?: { user: string; password: string };
  /** Protect the registry with bearer tokens from this token server. */
  token?: TokenServer;
  /** Serve read-only (distribution's `maintenance.readonly`): pushes get 405 UNSUPPORTED. */
  readOnly?: boolean;
}

export interface Registry {
  /** `127.0.0.1:PORT`, the registry part of references. */
  host: string;
  /** The temp dir holding config, storage and `registry.log`. */
  dir: string;
  /** The registry's log so far (for failure messages). */
  log(): string;
  /** SIGTERM, then SIGKILL after 3 s; removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const BINARY = "docker-registry";

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** Why registry-backed tests cannot run here, or undefined when `docker-registry` is installed. */
export function registrySkipReason(): string | undefined {
  if (!which(BINARY)) return `${BINARY} not found on PATH (Debian package docker-registry)`;
  return undefined;
}

/** Why a CLI tool the harness needs is missing, or undefined. */
export function toolSkipReason(...tools: string[]): string | undefined {
  const missing = tools.filter((t) => !which(t));
  return missing.length ? `missing tools: ${missing.join(", ")}` : undefined;
}

/** Starts a registry and waits (at most 15 s) until `GET /v2/` answers. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let auth = "";
  if (opts.htpasswd) {
    const line = execFileSync("htpasswd", ["-Bbn", opts.htpasswd.user, opts.htpasswd.password], {
      encoding: "utf8",
    });
    await writeFile(join(dir, "htpasswd"), line.trim() + "\n");
    auth = `auth:\n  htpasswd:\n    realm: nodewasi-test\n    path: ${join(dir, "htpasswd")}\n`;
  } else if (opts.token) {
    const t = opts.token;
    auth =
      `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n` +
      `    rootcertbundle: ${t.certPath}\n`;
  }
  const config =
    "version: 0.1\n" +
    "log:\n  level: info\n  accesslog:\n    disabled: false\n" +
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  delete:\n    enabled: true\n` +
    "  maintenance:\n    uploadpurging:\n      enabled: false\n" +
    (opts.readOnly ? "    readonly:\n      enabled: true\n" : "") +
    `http:\n  addr: ${host}\n  secret: nodewasi-test-secret\n` +
    auth;
  const configPath = join(dir, "config.yml");
  await writeFile(configPath, config);
  const logPath = join(dir, "registry.log");
  const logFd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(BINARY, ["serve", configPath], { stdio: ["ignore", logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
    child.once("error", () => {
      exited = true;
      resolve();
    });
  });
  const log = () => {
    try {
      return readFileSync(logPath, "utf8");
    } catch {
      return "";
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (!exited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exit;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  try {
    await waitForHttp(`http://${host}/v2/`, 15_000, () => exited);
  } catch (err) {
    const text = log();
    await stop();
    throw new Error(
      `docker-registry did not start on ${host}: ${(err as Error).message}\n${text.slice(-2000)}`,
    );
  }
  return { host, dir, log, stop };
}
