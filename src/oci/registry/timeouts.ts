/**
 * How long a registry (or its token server, or the storage host a blob redirects to) may keep us waiting.
 * One figure bounds every silence of an exchange: connecting (TCP and TLS), waiting for the response headers
 * (or for the peer to take more of an upload), and the gap between two pieces of a response body. A transfer
 * that keeps moving, however slowly, is never given up; a peer that goes silent for the timeout is. Small
 * documents (manifests, indexes, token answers, error bodies) must also arrive whole within it, so a peer
 * trickling a manifest a byte at a time cannot hold a pull forever either.
 *
 * Why 30 s: Go's dialer default, which docker, containerd and go-containerregistry use for connecting, and
 * long enough for a loaded registry to start answering. A stalled request is tried twice (retry.ts
 * `stallAttempts`), so a wedged registry is reported within about a minute, where undici's own defaults
 * (300 s for headers and body, each of five tries) kept a pull waiting for up to 25 minutes.
 */
import { formatDurationSetting, parseDuration } from "../../internal/index.js";

/** The default, in milliseconds. */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 30_000;

/** The environment variable that sets the default (the CLI's `--registry-timeout` overrides it). */
export const REGISTRY_TIMEOUT_ENV = "NODEWASI_REGISTRY_TIMEOUT";

/**
 * The timeout from `$NODEWASI_REGISTRY_TIMEOUT` (a duration: `30s`, `2m`, `0` for none), else the default.
 * This is how a shim under containerd, which has no command line of ours, is configured. An unreadable value
 * is an InvalidArgument naming the variable.
 */
export function defaultRegistryTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[REGISTRY_TIMEOUT_ENV];
  return text ? parseDuration(text, REGISTRY_TIMEOUT_ENV) : DEFAULT_REGISTRY_TIMEOUT_MS;
}

/** The phase of an exchange in which a peer went silent for the timeout. */
export type StallPhase = "connect" | "headers" | "body" | "document";

/** The error a document read throws when the whole body did not arrive within the timeout. */
export class DocumentTimeoutError extends Error {
  readonly code = "NODEWASI_DOCUMENT_TIMEOUT";
  constructor() {
    super("the response did not arrive whole in time");
    this.name = "DocumentTimeoutError";
  }
}

const PHASES: Record<string, StallPhase> = {
  UND_ERR_CONNECT_TIMEOUT: "connect",
  UND_ERR_HEADERS_TIMEOUT: "headers",
  UND_ERR_BODY_TIMEOUT: "body",
  NODEWASI_DOCUMENT_TIMEOUT: "document",
};

/** Which phase stalled, when `err` (or its cause chain) is one of our timeouts firing; else undefined. */
export function stallPhase(err: unknown): StallPhase | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && code in PHASES) return PHASES[code];
  }
  return undefined;
}

/** What to tell a user whose registry stalled: where the setting is, and its value now. */
export function raiseTimeoutAdvice(timeoutMs: number): string {
  return `try again later, or raise --registry-timeout or ${REGISTRY_TIMEOUT_ENV} (now ${formatDurationSetting(timeoutMs)})`;
}
