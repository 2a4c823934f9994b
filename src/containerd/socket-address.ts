/**
 * containerd's conventions for where a shim listens (reference containerd-shim-protocol.md §1.4; Go:
 * `containerd/containerd@v1.6.20:runtime/v2/shim/util_unix.go` `SocketAddress`, runc's manager `Start`):
 * `unix:///run/containerd/s/<hex(sha256(filepath.Join(<-address>, <namespace>, <grouping id>)))>`, where the
 * grouping id is the spec annotation `io.containerd.runc.v2.group` or `io.kubernetes.cri.sandbox-id`, so that
 * one shim serves a whole pod, as runc's does.
 *
 * Where runc falls back to the task id (a shim per container), nodewasi groups every other container of the
 * namespace into one daemon (`NAMESPACE_GROUP`, DESIGN decision 18): a daemon is a Node process (~40 MB and
 * 300 ms to boot), and one left running between `ctr run`s answers the next `start` at once (the shell front
 * of bin/containerd-shim-nodewasi-v1 does so without booting Node). Pods keep a daemon each: a pod's
 * containers live and die together, and one crashed daemon then takes down one pod, not every pod of the
 * namespace (`k8s.io` holds them all).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";

/** Default socket folder; `NODEWASI_SHIM_SOCKET_DIR` overrides it (tests, private containerds). */
export const SOCKET_DIR = "/run/containerd/s";

/** The annotations that group tasks into one shim, in containerd's order of precedence. */
export const GROUP_ANNOTATIONS = ["io.containerd.runc.v2.group", "io.kubernetes.cri.sandbox-id"] as const;

/** Go's `filepath.Join` cleans the result: `/a/b.sock/ns/id`. */
export function socketPath(
  containerdAddress: string,
  namespace: string,
  groupId: string,
  dir: string = process.env.NODEWASI_SHIM_SOCKET_DIR || SOCKET_DIR,
): string {
  const hashed = posix.join(containerdAddress, namespace, groupId);
  return join(dir, createHash("sha256").update(hashed).digest("hex"));
}

/** `unix://` + the socket path: what `start` prints and writes to `address`. */
export function socketAddress(path: string): string {
  return `unix://${path}`;
}

/**
 * The grouping id of containers outside a pod: one daemon per namespace. Not a valid container id
 * (identifiers are `[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`), so it never names a sandbox or a task; the shell front
 * of bin/containerd-shim-nodewasi-v1 hashes the same string.
 */
export const NAMESPACE_GROUP = "*";

/**
 * The grouping id of the task in `bundle`: a grouping annotation of its config.json, else `NAMESPACE_GROUP`
 * (also for a config.json that cannot be read: its Create fails on any daemon).
 */
export async function groupingId(bundle: string): Promise<string> {
  let annotations: Record<string, string> | undefined;
  try {
    const spec = JSON.parse(await readFile(join(bundle, "config.json"), "utf8")) as {
      annotations?: Record<string, string>;
    };
    annotations = spec?.annotations;
  } catch {
    return NAMESPACE_GROUP;
  }
  for (const key of GROUP_ANNOTATIONS) {
    const value = annotations?.[key];
    if (typeof value === "string" && value) return value;
  }
  return NAMESPACE_GROUP;
}
