/**
 * What a task runs, read from an OCI bundle (runtime-spec config.json), as containerd hands it over: the
 * process (`args`, `env`, `cwd`), the rootfs, bind mounts that become preopens, and the memory limit. The
 * module is `process.args[0]` resolved inside the rootfs (relative to `cwd`, or through `PATH`), with an
 * optional `#export` suffix as runwasi takes it (`/app.wasm#run`).
 */
import { readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, posix, relative, sep } from "node:path";
import { failedPrecondition, invalidArgument, notFound, readWasmFileHeader } from "../internal/index.js";

/** The parts of an OCI runtime spec nodewasi reads (opencontainers/runtime-spec config.md). */
export interface RuntimeSpec {
  process?: { args?: string[]; env?: string[]; cwd?: string; terminal?: boolean };
  root?: { path?: string; readonly?: boolean };
  mounts?: { destination: string; source?: string; type?: string; options?: string[] }[];
  linux?: { resources?: { memory?: { limit?: number } } };
  annotations?: Record<string, string>;
}

/**
 * Reads `<bundle>/config.json`. The fields nodewasi reads are checked for their runtime-spec types, so a
 * hostile or broken spec is `InvalidArgument` naming the field, never a TypeError later; other fields are
 * ignored. A missing file is `NotFound`.
 */
export async function readRuntimeSpec(bundle: string): Promise<RuntimeSpec> {
  const path = join(bundle, "config.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw notFound(`bundle ${bundle} has no config.json (an OCI runtime spec)`);
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const bad = (field: string, want: string) =>
    invalidArgument(`${path}: ${field} is not ${want}; fix the runtime spec (opencontainers/runtime-spec)`);
  const obj = (v: unknown, field: string) => {
    if (v !== undefined && !isObject(v)) throw bad(field, "an object");
    return v as Record<string, unknown> | undefined;
  };
  const root = obj(spec, "the document");
  if (!root) throw bad("the document", "an object");
  const proc = obj(root.process, "process");
  if (proc) checkProcess(proc, (f, w) => bad(`process.${f}`, w));
  const rootfs = obj(root.root, "root");
  if (rootfs?.path !== undefined && typeof rootfs.path !== "string") throw bad("root.path", "a string");
  if (root.mounts !== undefined) {
    if (!Array.isArray(root.mounts)) throw bad("mounts", "an array");
    root.mounts.forEach((m: unknown, i) => {
      const mount = obj(m, `mounts[${i}]`);
      if (typeof mount?.destination !== "string") throw bad(`mounts[${i}].destination`, "a string");
      for (const f of ["source", "type"])
        if (mount[f] !== undefined && typeof mount[f] !== "string")
          throw bad(`mounts[${i}].${f}`, "a string");
      if (mount.options !== undefined && !isStringArray(mount.options))
        throw bad(`mounts[${i}].options`, "an array of strings");
    });
  }
  const memory = obj(
    obj(obj(root.linux, "linux")?.resources, "linux.resources")?.memory,
    "linux.resources.memory",
  );
  if (memory?.limit !== undefined && typeof memory.limit !== "number")
    throw bad("linux.resources.memory.limit", "a number");
  const annotations = obj(root.annotations, "annotations");
  if (annotations && !Object.values(annotations).every((v) => typeof v === "string"))
    throw bad("annotations", "an object of strings");
  return root as RuntimeSpec;
}

/**
 * Parses an OCI Process (config.json's `process`, or the JSON of an Exec request): args and env arrays of
 * strings, cwd a string, terminal a boolean. Anything else is `InvalidArgument` naming `what` and the field.
 */
export function parseProcessSpec(
  json: Uint8Array | string,
  what: string,
): NonNullable<RuntimeSpec["process"]> {
  let v: unknown;
  try {
    v = JSON.parse(typeof json === "string" ? json : Buffer.from(json).toString("utf8"));
  } catch (err) {
    throw invalidArgument(`${what}: the process spec is not JSON: ${(err as Error).message}`);
  }
  const bad = (field: string, want: string) =>
    invalidArgument(`${what}: the process spec's ${field} is not ${want}`);
  if (!isObject(v)) throw bad("document", "an object");
  checkProcess(v, bad);
  return v as NonNullable<RuntimeSpec["process"]>;
}

function checkProcess(p: Record<string, unknown>, bad: (field: string, want: string) => Error): void {
  for (const f of ["args", "env"])
    if (p[f] !== undefined && !isStringArray(p[f])) throw bad(f, "an array of strings");
  if (p.cwd !== undefined && typeof p.cwd !== "string") throw bad("cwd", "a string");
  if (p.terminal !== undefined && typeof p.terminal !== "boolean") throw bad("terminal", "a boolean");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

/** `["A=1", "B=x=y"]` -> `{A: "1", B: "x=y"}`; later entries win, as in a process environment. */
export function envRecord(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of env) {
    const eq = kv.indexOf("=");
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/**
 * Bind mounts of the spec as preopens (guest path -> host dir). Mounts of kernel filesystems (proc, sysfs,
 * tmpfs, devpts, mqueue, cgroup...) mean nothing to a wasm guest and are skipped; so are binds of files
 * (WASI preopens are directories).
 */
export async function mountPreopens(mounts: RuntimeSpec["mounts"]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const m of mounts ?? []) {
    const bind = m.type === "bind" || m.options?.includes("bind") || m.options?.includes("rbind");
    if (!bind || !m.source || !isAbsolute(m.source)) continue;
    const st = await stat(m.source).catch(() => undefined);
    if (st?.isDirectory()) out[m.destination] = m.source;
  }
  return out;
}

export interface ModuleRef {
  /** The module file on the host. */
  host: string;
  /** Its path inside the rootfs, as the guest would name it. */
  guest: string;
  /** The export to run instead of `_start`, from `path#export`. */
  entry?: string;
  /** What its bytes must hash to, for a module from the content store (RunSpec.moduleDigest). */
  digest?: string;
}

/** `x.wasm#run` -> the file `x.wasm` and the export `run` (runwasi's `path#func`); no `#`: the file alone. */
export function splitEntry(args0: string): { file: string; entry?: string } {
  const hash = args0.lastIndexOf("#");
  return hash > 0 ? { file: args0.slice(0, hash), entry: args0.slice(hash + 1) } : { file: args0 };
}

/**
 * Resolves `args0` (`/app.wasm`, `app.wasm`, `hello` via PATH, `x.wasm#run`) inside `rootfs`. Symlinks are
 * followed only while they stay inside. NotFound says where it looked.
 */
export async function resolveModule(
  rootfs: string,
  args0: string,
  cwd = "/",
  path = "/usr/local/bin:/usr/bin:/bin",
): Promise<ModuleRef> {
  const { file, entry } = splitEntry(args0);
  const candidates = file.startsWith("/")
    ? [file]
    : file.includes("/")
      ? [posix.join(cwd, file)]
      : [
          posix.join(cwd, file),
          ...path
            .split(":")
            .filter(Boolean)
            .map((d) => posix.join(d, file)),
        ];
  const root = await realpath(rootfs).catch((err: unknown) => {
    throw notFound(`the rootfs ${rootfs} does not exist or cannot be read (root.path of the bundle)`, {
      cause: err,
    });
  });
  for (const guest of candidates) {
    const host = await realpath(join(root, guest)).catch(() => undefined);
    if (!host) continue;
    const rel = relative(root, host);
    if (rel === ".." || rel.startsWith(`..${sep}`)) {
      throw invalidArgument(`${args0} resolves outside the container's rootfs`);
    }
    if ((await stat(host)).isFile()) return { host, guest, ...(entry ? { entry } : {}) };
  }
  throw notFound(`module ${file} not found in the rootfs ${rootfs} (looked at ${candidates.join(", ")})`);
}

/** Checks the first bytes of `file` are a wasm module, with a message for what containerd may hand over. */
export async function checkWasm(file: string, args0: string): Promise<void> {
  const header = await readWasmFileHeader(file);
  if ("error" in header) {
    throw failedPrecondition(
      `${args0} is not a WebAssembly module (${header.error}); this runtime runs wasm only`,
    );
  }
  if (header.kind === "component") {
    throw failedPrecondition(`${args0} is a WebAssembly component; nodewasi runs WASI preview 1 modules`);
  }
}

/** `resolveModule`, then `checkWasm`: NotFound when it is not there, FailedPrecondition when it is no module. */
export async function resolveWasmModule(
  rootfs: string,
  args0: string,
  cwd?: string,
  path?: string,
): Promise<ModuleRef> {
  const module = await resolveModule(rootfs, args0, cwd, path);
  await checkWasm(module.host, args0);
  return module;
}
