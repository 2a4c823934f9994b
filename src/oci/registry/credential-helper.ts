/**
 * The docker credential helper protocol (docker/docker-credential-helpers `client/client.go`): run
 * `docker-credential-<name> get`, write the server URL to stdin, read
 * `{"ServerURL":"…","Username":"…","Secret":"…"}` from stdout. `Username == "<token>"` means `Secret` is an
 * identity (OAuth2 refresh) token. A helper that is missing, fails, or says "credentials not found" gives no
 * credentials, as docker treats it, so anonymous pulls still work on machines with a broken helper.
 */
import { spawn } from "node:child_process";
import type { Logger } from "../../internal/index.js";
import type { Credentials } from "./credentials.js";

/** How long a helper may take (a keychain prompt could hang forever otherwise). */
const HELPER_TIMEOUT_MS = 15_000;
const MAX_OUTPUT = 1 << 20;

/** Environment (PATH) for the helper, where to log why it gave nothing, and how long it may take. */
export interface HelperOptions {
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  timeoutMs?: number;
}

/** Runs a credential helper; never throws, never logs secrets (only the helper's name and exit reason). */
export async function runCredentialHelper(
  name: string,
  serverUrl: string,
  opts: HelperOptions,
): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    opts.logger.debug("credential helper name is not a plain name; ignored", { helper: name });
    return undefined;
  }
  const program = `docker-credential-${name}`;
  const result = await new Promise<{ code: number | null; stdout: string; error?: string }>((resolve) => {
    const child = spawn(program, ["get"], {
      env: opts.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    // Our own timer, not spawn's `timeout`: that one stays armed when the program does not exist, holding
    // the process open for its whole length.
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? HELPER_TIMEOUT_MS);
    timer.unref();
    child.on("close", () => clearTimeout(timer));
    child.on("error", () => clearTimeout(timer));
    const out: Buffer[] = [];
    let size = 0;
    child.stdout.on("data", (b: Buffer) => {
      size += b.length;
      if (size <= MAX_OUTPUT) out.push(b);
    });
    child.stderr.resume();
    child.stdin.on("error", () => {}); // the helper may exit before reading stdin
    child.on("error", (err) => resolve({ code: null, stdout: "", error: err.message }));
    child.on("close", (code, signal) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        ...(signal ? { error: `killed by ${signal}` } : {}),
      }),
    );
    child.stdin.end(serverUrl);
  });
  if (result.error !== undefined || result.code !== 0) {
    opts.logger.debug("credential helper gave no credentials", {
      helper: program,
      server: serverUrl,
      reason: result.error ?? `exit status ${result.code}`,
    });
    return undefined;
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(result.stdout) as typeof parsed;
  } catch {
    opts.logger.debug("credential helper printed something that is not JSON", { helper: program });
    return undefined;
  }
  const user = typeof parsed.Username === "string" ? parsed.Username : "";
  const secret = typeof parsed.Secret === "string" ? parsed.Secret : "";
  if (secret === "") return undefined;
  if (user === "<token>") return { identityToken: secret };
  return { username: user, password: secret };
}
