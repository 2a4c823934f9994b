/**
 * The inputs of `nodewasi build` read from the command line and the host: `K=V` pairs, `--created`, and the
 * `--file HOST:PATH` trees that become tar entries. Every problem is an `InvalidArgument` (exit 2) or a
 * `NotFound` (exit 3) that names the option and the value, so a typo is caught before anything is built.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { invalidArgument, notFound } from "../internal/index.js";
import type { TarEntry } from "../oci/index.js";

/** Collects a repeatable option's values (commander's reducer). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Splits `K=V` at the first `=`; the key may not be empty, the value may. */
export function parseKeyValue(option: string, s: string): [string, string] {
  const eq = s.indexOf("=");
  if (eq <= 0) {
    const example = option === "--env" ? "GREETING=hello" : "org.opencontainers.image.version=1.0";
    throw invalidArgument(`${option} ${JSON.stringify(s)}: want KEY=VALUE, e.g. ${option} ${example}`);
  }
  return [s.slice(0, eq), s.slice(eq + 1)];
}

/** `--annotation K=V ...` as a map (a later value for a key wins). */
export function parseAnnotations(values: readonly string[]): Record<string, string> {
  return Object.fromEntries(values.map((v) => parseKeyValue("--annotation", v)));
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;

/** `--created`: an RFC 3339 time kept as written, or `now` (to the second, in UTC). */
export function parseCreated(s: string): string {
  if (s === "now") return new Date().toISOString().replace(/\.\d+Z$/, "Z");
  if (!RFC3339.test(s) || Number.isNaN(Date.parse(s))) {
    throw invalidArgument(
      `--created ${JSON.stringify(s)} is not an RFC 3339 time; write e.g. 2024-05-01T12:00:00Z, or now`,
    );
  }
  return s;
}

/**
 * A path inside the image, for `--entrypoint`, `--workdir` and the PATH of `--file`: absolute once
 * normalised, and not the root itself when `file` (a file needs a name).
 */
export function imagePath(option: string, s: string, file = true): string {
  const norm = posix.normalize(`/${s}`);
  if (s === "" || s.split("/").includes("..") || (file && norm === "/")) {
    throw invalidArgument(
      `${option} ${JSON.stringify(s)}: want a path inside the image such as /app/data.txt, without ..`,
    );
  }
  return norm.length > 1 ? norm.replace(/\/$/, "") : norm;
}

/**
 * The tar entries of `--file HOST:PATH` options, in the order given: a host file becomes PATH, a host
 * directory becomes PATH and everything below it, in sorted order so the layer is reproducible. Modes are
 * normalised (0755 for directories and executables, 0644 otherwise) and times and owners are not kept, for
 * the same reason. Symlinks inside a directory are refused: their targets would resolve on the running host.
 */
export async function readFileOptions(values: readonly string[]): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  for (const v of values) {
    const colon = v.lastIndexOf(":");
    if (colon <= 0 || colon === v.length - 1) {
      throw invalidArgument(
        `--file ${JSON.stringify(v)}: want HOST:PATH, e.g. --file ./config.json:/etc/app.json`,
      );
    }
    const host = v.slice(0, colon);
    const target = imagePath("--file", v.slice(colon + 1)).slice(1);
    const st = await stat(host).catch((err: NodeJS.ErrnoException) => {
      throw err.code === "ENOENT"
        ? notFound(`--file ${v}: ${host} does not exist; give a file or directory on this host`)
        : err;
    });
    if (st.isDirectory()) await addTree(host, target, entries);
    else if (st.isFile()) entries.push({ path: target, data: await readFile(host), mode: modeOf(st.mode) });
    else throw invalidArgument(`--file ${v}: ${host} is neither a file nor a directory`);
  }
  return entries;
}

async function addTree(host: string, target: string, entries: TarEntry[]): Promise<void> {
  entries.push({ path: `${target}/`, type: "dir", mode: 0o755 });
  const children = (await readdir(host, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const child of children) {
    const from = join(host, child.name);
    const to = `${target}/${child.name}`;
    if (child.isDirectory()) await addTree(from, to, entries);
    else if (child.isFile()) {
      entries.push({ path: to, data: await readFile(from), mode: modeOf((await stat(from)).mode) });
    } else {
      throw invalidArgument(
        `--file: ${from} is a symlink or special file; only regular files and directories are copied`,
      );
    }
  }
}

function modeOf(hostMode: number): number {
  return hostMode & 0o111 ? 0o755 : 0o644;
}
