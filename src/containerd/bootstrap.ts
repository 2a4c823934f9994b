/**
 * What `start` prints, and which transport the daemon serves (reference containerd-shim-protocol.md §1.3, §3).
 *
 * The default is the plain `unix:///run/containerd/s/<hex>` address with ttrpc: the only reply every containerd
 * from 1.6 to 2.3 accepts (1.6 dials anything else as an abstract socket and fails). gRPC is an opt-in, set
 * by the operator in the shim's environment, `NODEWASI_SHIM_BOOTSTRAP`:
 *
 * | value            | start prints                                              | for          |
 * | ---------------- | --------------------------------------------------------- | ------------ |
 * | unset, `address` | `unix:///run/containerd/s/<hex>` (ttrpc, task v2)         | 1.6 to 2.3   |
 * | `grpc-v2`        | `{"version":2,"address":"/run/containerd/s/<hex>","protocol":"grpc"}` | 1.7 |
 * | `grpc-v3`        | `{"version":3,"address":"/run/containerd/s/<hex>","protocol":"grpc"}` | 2.x |
 *
 * Why the environment: containerd gives `start` its own environment (plus TTRPC_ADDRESS, and from 1.7
 * MAX_SHIM_VERSION), the bundle and an options blob; the runtime `options` of the config are not what an
 * operator can count on at `start`, and the bundle's annotations are per container. containerd's environment is
 * set where the shim's PATH already is (the systemd drop-in of examples/containerd/), and 2.x also takes
 * `[plugins."io.containerd.shim.v1.manager"] env`. The version cannot be guessed (MAX_SHIM_VERSION is 2 on 1.7
 * and 2.x alike, §9), so the value names it: 1.7 dials `containerd.task.v3.Task` over gRPC for version 2, 2.x
 * wants version 3 for gRPC and refuses a version above 2 on 1.7.
 *
 * A JSON reply is refused when MAX_SHIM_VERSION is unset: that is containerd 1.6, which cannot read it.
 *
 * One daemon serves a whole namespace (or pod), so its reply is recorded beside its socket (`<socket>.bootstrap`) and a later
 * `start` of the same group prints that, whatever its own environment says: the transport on the socket
 * decides, not the caller.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { Code, ShimError } from "../internal/index.js";
import { socketAddress } from "./socket-address.js";

export const BOOTSTRAP_ENV = "NODEWASI_SHIM_BOOTSTRAP";

export type BootstrapMode = "address" | "grpc-v2" | "grpc-v3";

const MODES: readonly BootstrapMode[] = ["address", "grpc-v2", "grpc-v3"];

/** The transport a mode serves the Task service over. */
export function transportOf(mode: BootstrapMode): "ttrpc" | "grpc" {
  return mode === "address" ? "ttrpc" : "grpc";
}

/**
 * The mode `env` asks for. Throws InvalidArgument for an unknown value and FailedPrecondition for a gRPC mode
 * under a containerd that did not set MAX_SHIM_VERSION (1.6: plain addresses only).
 */
export function bootstrapMode(env: NodeJS.ProcessEnv): BootstrapMode {
  const value = (env[BOOTSTRAP_ENV] ?? "").trim();
  if (!value) return "address";
  if (!MODES.includes(value as BootstrapMode)) {
    throw new ShimError(
      Code.InvalidArgument,
      `${BOOTSTRAP_ENV}=${value} is not one of ${MODES.join(", ")} (grpc-v2 for containerd 1.7, grpc-v3 for 2.x)`,
    );
  }
  const mode = value as BootstrapMode;
  if (mode !== "address" && !env.MAX_SHIM_VERSION) {
    throw new ShimError(
      Code.FailedPrecondition,
      `${BOOTSTRAP_ENV}=${mode} needs containerd 1.7 or later, which sets MAX_SHIM_VERSION; this containerd did not (1.6 reads only a plain address): unset ${BOOTSTRAP_ENV}`,
    );
  }
  return mode;
}

/** What `start` prints for a daemon listening on `path` in `mode` (`address` gets the plain address). */
export function startReply(mode: BootstrapMode, path: string): string {
  if (mode === "address") return socketAddress(path);
  // containerd dials "unix://" + address for gRPC: the address must be a bare path (§3).
  return JSON.stringify({ version: mode === "grpc-v2" ? 2 : 3, address: path, protocol: "grpc" });
}

/** Where a daemon listening on `socket` records its reply. */
export function bootstrapRecord(socket: string): string {
  return `${socket}.bootstrap`;
}

/** Records the reply of the daemon on `socket` (before it tells `start` it is ready). */
export async function recordBootstrap(socket: string, mode: BootstrapMode): Promise<void> {
  await writeFile(bootstrapRecord(socket), startReply(mode, socket), { mode: 0o600 });
}

/** Removes the record, when the daemon removes its socket. */
export async function forgetBootstrap(socket: string): Promise<void> {
  await rm(bootstrapRecord(socket), { force: true });
}

/**
 * The reply of the live daemon on `socket`. Its record is written between listen and ready, so a racing
 * `start` may find the socket live and the record not yet there: it waits up to `waitMs`, then assumes a
 * plain address (a daemon of a nodewasi that wrote no record served ttrpc).
 */
export async function recordedReply(socket: string, waitMs = 2000): Promise<string> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const text = await readFile(bootstrapRecord(socket), "utf8").catch(() => undefined);
    if (text) return text;
    if (Date.now() >= deadline) return socketAddress(socket);
    await new Promise((r) => setTimeout(r, 20));
  }
}
