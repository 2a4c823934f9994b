/**
 * stdio URIs as containerd hands them to a shim and runc takes them (DESIGN decision 16; containerd
 * `pkg/process/io.go`): a plain path is a FIFO, `file:///path` is a file appended to, `binary:///path?k=v`
 * starts a logging binary, and an empty string means no stream (/dev/null). nodewasi's own extension:
 * `file:///path?max-size=10m&max-file=3` caps the file and rotates it, as Docker's `--log-opt`s do
 * (rotating-log.ts; `nodewasi run -d` logs this way).
 */
import { isAbsolute } from "node:path";
import { invalidArgument } from "../internal/index.js";
import { parseLogOptions } from "./rotating-log.js";
import type { Stdio, StdioTarget } from "./runner.js";

/**
 * A process's stdio as the CLI and containerd hand it to the shim (CreateTaskRequest, ExecProcessRequest, the
 * TaskCreate event's TaskIO): one URI per stream (parseStdio), and whether the caller asked for a terminal.
 */
export interface StdioUris extends Stdio<string> {
  terminal: boolean;
}

/** The stdio URIs of a request that carries them among other fields (Create, Exec), and nothing else. */
export function stdioUris(r: StdioUris): StdioUris {
  return { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal };
}

/**
 * Parses one stdio URI. `binary://` query parameters become the logger's arguments in order, each key then
 * its value when it has one, as containerd's `NewBinaryCmd` builds them (`?a=1&b` -> `["a", "1", "b"]`).
 * Throws `InvalidArgument` for an unknown scheme or a relative path, so a typo is not read as a FIFO name.
 */
export function parseStdio(uri: string): StdioTarget {
  if (uri === "") return { kind: "null" };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (!isAbsolute(uri)) {
      throw invalidArgument(
        `stdio ${JSON.stringify(uri)}: a FIFO path must be absolute (or use file:///path)`,
      );
    }
    return { kind: "fifo", path: uri };
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch (cause) {
    throw invalidArgument(`stdio ${JSON.stringify(uri)}: not a valid URI`, { cause });
  }
  const path = decodeURIComponent(url.pathname);
  if (scheme !== "file" && scheme !== "binary" && scheme !== "fifo") {
    throw invalidArgument(
      `stdio ${JSON.stringify(uri)}: unknown scheme ${scheme}: (use a FIFO path, file:///path or binary:///path)`,
    );
  }
  if (url.host !== "" || !isAbsolute(path) || path === "/") {
    throw invalidArgument(
      `stdio ${JSON.stringify(uri)}: ${scheme}:// needs an absolute path and no host, as in ${scheme}:///var/log/x`,
    );
  }
  if (scheme === "fifo") return { kind: "fifo", path };
  if (scheme === "file") {
    const rotate = parseLogOptions(url.searchParams, `stdio ${JSON.stringify(uri)}:`);
    return rotate ? { kind: "file", path, rotate } : { kind: "file", path };
  }
  const args: string[] = [];
  for (const [k, v] of url.searchParams) {
    args.push(k);
    if (v !== "") args.push(v);
  }
  return { kind: "binary", path, args };
}

/**
 * The three targets of a spec from containerd's stdio strings. With `terminal`, stderr goes to the stdout
 * target (DESIGN decision 16: no pty, both streams interleave on one FIFO as a terminal would show them) and the
 * stderr URI, which containerd leaves empty then, is ignored.
 */
export function stdioTargets(io: StdioUris): Stdio<StdioTarget> {
  const stdout = parseStdio(io.stdout);
  return { stdin: parseStdio(io.stdin), stdout, stderr: io.terminal ? stdout : parseStdio(io.stderr) };
}
