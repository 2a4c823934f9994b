/**
 * containerd's conventions for where a shim listens (reference containerd-shim-protocol.md §1.4; Go:
 * `containerd/containerd@v1.6.20:runtime/v2/shim/util_unix.go` `SocketAddress`, runc's manager `Start`):
 * `unix:///run/containerd/s/<hex(sha256(filepath.Join(<-address>, <namespace>, <grouping id>)))>`, where the
 * grouping id is the spec annotation `io.containerd.runc.v2.group` or `io.kubernetes.cri.sandbox-id`, else
 * the task id, so that one shim serves a whole pod.
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

/** The grouping id of the task in `bundle`: a grouping annotation of its config.json, else `id`. */
export async function groupingId(bundle: string, id: string): Promise<string> {
  let annotations: Record<string, string> | undefined;
  try {
    const spec = JSON.parse(await readFile(join(bundle, "config.json"), "utf8")) as {
      annotations?: Record<string, string>;
    };
    annotations = spec?.annotations;
  } catch {
    return id;
  }
  for (const key of GROUP_ANNOTATIONS) {
    const value = annotations?.[key];
    if (typeof value === "string" && value) return value;
  }
  return id;
}
