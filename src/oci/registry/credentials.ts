/**
 * Registry credentials the way `docker` and `podman` find them, so `docker login` is all a user has to do.
 * Order (docker/cli `configfile.GetCredentialsStore`, ggcr `authn.DefaultKeychain`): in
 * `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`) `credHelpers[<registry>]`, then `credsStore`,
 * then `auths[<key>]`; then the Podman files `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
 * `~/.config/containers/auth.json`. Docker Hub's key is `https://index.docker.io/v1/` (ggcr
 * `authn.DefaultAuthKey`); other keys may be bare hosts or URLs.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { type Logger, silentLogger } from "../../internal/index.js";
import { DOCKER_HUB } from "../image/index.js";
import { runCredentialHelper } from "./credential-helper.js";

/** What a registry login can give. Secrets: never log or print them (use `redact`). */
export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user): exchanged by POST at the realm. */
  identityToken?: string;
  /** A bearer token to send as is (`registrytoken`). */
  registryToken?: string;
}

/** Where the registry client gets credentials; `undefined` means anonymous. */
export interface CredentialProvider {
  get(registry: string): Promise<Credentials | undefined>;
}

/** Where to look: the environment and home directory decide every file location. */
export interface DockerCredentialsOptions {
  /** Environment for file locations and helpers (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Home directory (default `os.homedir()`). */
  home?: string;
  logger?: Logger;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}
interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const DOCKER_HUB_KEY = "https://index.docker.io/v1/";
const HUB_NAMES = new Set([DOCKER_HUB, "index.docker.io", "registry-1.docker.io"]);

/** The host a config key names: `https://ghcr.io/v1/` -> `ghcr.io`; `quay.io/org/repo` -> `quay.io`. */
export function configKeyHost(key: string): string {
  const host = key
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .split("/")[0]!
    .toLowerCase();
  return HUB_NAMES.has(host) ? DOCKER_HUB : host;
}

/** Reads docker and podman credential stores; files are read on each lookup so `docker login` applies at once. */
export class DockerCredentials implements CredentialProvider {
  readonly #env: NodeJS.ProcessEnv;
  readonly #home: string;
  readonly #logger: Logger;

  constructor(opts: DockerCredentialsOptions = {}) {
    this.#env = opts.env ?? process.env;
    this.#home = opts.home ?? this.#env.HOME ?? homedir();
    this.#logger = opts.logger ?? silentLogger;
  }

  async get(registry: string): Promise<Credentials | undefined> {
    const host = configKeyHost(registry);
    const serverUrl = host === DOCKER_HUB ? DOCKER_HUB_KEY : host;
    const dockerConfig = join(this.#env.DOCKER_CONFIG || join(this.#home, ".docker"), "config.json");
    const docker = await this.#read(dockerConfig);
    if (docker) {
      const h = docker.credHelpers;
      const helpers = typeof h === "object" && h !== null && !Array.isArray(h) ? h : {};
      const helper = Object.entries(helpers).find(([k]) => configKeyHost(k) === host)?.[1];
      for (const name of [helper, docker.credsStore]) {
        // JSON may hold anything here: `"credsStore": 5` must not run docker-credential-5.
        if (typeof name !== "string" || !name) continue;
        const creds = await runCredentialHelper(name, serverUrl, { env: this.#env, logger: this.#logger });
        if (creds) return creds;
      }
      const creds = this.#fromAuths(docker, host, dockerConfig);
      if (creds) return creds;
    }
    const podmanFiles = [
      this.#env.REGISTRY_AUTH_FILE,
      this.#env.XDG_RUNTIME_DIR && join(this.#env.XDG_RUNTIME_DIR, "containers", "auth.json"),
      join(this.#home, ".config", "containers", "auth.json"),
    ];
    for (const file of podmanFiles) {
      if (!file) continue;
      const config = await this.#read(file);
      const creds = config && this.#fromAuths(config, host, file);
      if (creds) return creds;
    }
    return undefined;
  }

  #fromAuths(config: ConfigFile, host: string, file: string): Credentials | undefined {
    const auths = Object.entries(config.auths ?? {});
    // An exact key wins over a URL-shaped or repository-scoped one (Podman allows `quay.io/org`).
    const entry = (auths.find(([k]) => k.toLowerCase() === host) ??
      auths.find(([k]) => configKeyHost(k) === host))?.[1];
    if (!entry || typeof entry !== "object") return undefined;
    const creds: Credentials = {};
    if (typeof entry.auth === "string" && entry.auth !== "") {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) {
        this.#logger.debug("credentials entry has an auth field that is not base64 user:password; ignored", {
          file,
          registry: host,
        });
      } else {
        creds.username = decoded.slice(0, colon);
        creds.password = decoded.slice(colon + 1);
      }
    } else if (typeof entry.username === "string" && typeof entry.password === "string") {
      creds.username = entry.username;
      creds.password = entry.password;
    }
    if (typeof entry.identitytoken === "string" && entry.identitytoken !== "")
      creds.identityToken = entry.identitytoken;
    if (typeof entry.registrytoken === "string" && entry.registrytoken !== "")
      creds.registryToken = entry.registrytoken;
    return Object.keys(creds).length ? creds : undefined;
  }

  async #read(file: string): Promise<ConfigFile | undefined> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return undefined;
    }
    try {
      const json = JSON.parse(text) as unknown;
      return typeof json === "object" && json !== null ? (json as ConfigFile) : undefined;
    } catch {
      this.#logger.warn("credentials file is not valid JSON; ignoring it", { file });
      return undefined;
    }
  }
}
