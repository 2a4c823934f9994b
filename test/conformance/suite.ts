/**
 * Reads a WASI testsuite folder in the layout of WebAssembly/wasi-testsuite (`prod/testsuite-base`):
 * `NAME.wasm` files with an optional `NAME.json` beside them, a `manifest.json` per folder, and the folders the
 * tests preopen. The spec format is the legacy one (test/wasi-testsuite/SOURCE.md): `args`, `env`, `root`,
 * `exit_code`, `stdout`, `stderr`. A spec with any other key (the older `dirs`, the newer `operations`) is
 * kept as a case that is reported unsupported rather than run in a way that would not honour it.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/** One test's expectations and inputs, defaults filled in. */
export interface CaseSpec {
  /** Arguments after argv[0]. */
  args: string[];
  /** The guest's whole environment. */
  env: Record<string, string>;
  /** Folder (relative to the test's folder) preopened as the guest's `/`, or null for none. */
  root: string | null;
  exitCode: number;
  /** Compared only when present. */
  stdout?: string;
  stderr?: string;
}

/** A test of the suite. */
export interface ConformanceCase {
  /** `<lang>/<name>` for the upstream layout, else the module's path in the suite without `.wasm`. */
  id: string;
  /** The module's file name without `.wasm`. */
  name: string;
  /** What the folder's manifest.json calls it ("WASI C tests [wasm32-wasip1]"), else its relative path. */
  group: string;
  /** Absolute paths of the module and of the folder that holds it. */
  module: string;
  dir: string;
  spec: CaseSpec;
  /** Why this case cannot be run as its spec asks, when it cannot. */
  unsupported?: string;
}

/** A folder of the suite that was left out, and why (a wasip3 folder of components, say). */
export interface SkippedFolder {
  folder: string;
  reason: string;
}

export interface Suite {
  cases: ConformanceCase[];
  skipped: SkippedFolder[];
}

const SPEC_KEYS = new Set(["args", "env", "root", "exit_code", "stdout", "stderr"]);
/** Versions node:wasi runs; a manifest naming another version is skipped. */
const PREVIEW1 = new Set(["wasm32-wasip1", "wasm32-wasi", "wasi_snapshot_preview1"]);

/** Thrown for a suite folder that does not exist or holds no test, and for a spec that is not valid. */
export class SuiteError extends Error {
  constructor(
    message: string,
    readonly kind: "not-found" | "invalid",
  ) {
    super(message);
    this.name = "SuiteError";
  }
}

/** Every test under `root`, sorted by id, so reports list them in the same order everywhere. */
export async function loadSuite(root: string): Promise<Suite> {
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new SuiteError(
      `suite ${root}: no such folder; give --suite a wasi-testsuite checkout`,
      "not-found",
    );
  }
  const cases: ConformanceCase[] = [];
  const skipped: SkippedFolder[] = [];
  await walk(root, root, cases, skipped);
  if (cases.length === 0) {
    throw new SuiteError(
      `suite ${root}: no .wasm test found (expected tests/<lang>/testsuite/<version>/NAME.wasm)`,
      "not-found",
    );
  }
  cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.id)) throw new SuiteError(`suite ${root}: two tests are both named ${c.id}`, "invalid");
    seen.add(c.id);
  }
  return { cases, skipped };
}

async function walk(
  root: string,
  dir: string,
  cases: ConformanceCase[],
  skipped: SkippedFolder[],
): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  const rel = relative(root, dir).split(sep).join("/") || ".";
  const wasm = entries.filter((e) => e.isFile() && e.name.endsWith(".wasm"));
  if (wasm.length > 0) {
    const manifest = await readJson(join(dir, "manifest.json"), rel).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw err;
    });
    const { name, version } = manifest as { name?: unknown; version?: unknown };
    if (typeof version === "string" && !PREVIEW1.has(version)) {
      skipped.push({ folder: rel, reason: `version ${version}: node:wasi runs WASI preview 1 only` });
      return;
    }
    const group = typeof name === "string" ? name : rel;
    for (const e of wasm) cases.push(await readCase(dir, rel, group, e.name.slice(0, -".wasm".length)));
  }
  for (const e of entries) {
    // Folders the tests preopen (`fs-tests.dir`) are data, not more tests.
    if (e.isDirectory() && !e.name.endsWith(".dir")) await walk(root, join(dir, e.name), cases, skipped);
  }
}

async function readCase(dir: string, rel: string, group: string, name: string): Promise<ConformanceCase> {
  const specPath = join(dir, `${name}.json`);
  const raw = await readJson(specPath, `${rel}/${name}.json`).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  });
  const where = `${rel}/${name}.json`;
  const c: ConformanceCase = {
    id: caseId(rel, name),
    name,
    group,
    module: join(dir, `${name}.wasm`),
    dir,
    spec: parseSpec(raw, where),
  };
  const unknown = Object.keys(raw as object).filter((k) => !SPEC_KEYS.has(k));
  if (unknown.length > 0) c.unsupported = `spec keys not supported: ${unknown.join(", ")}`;
  return c;
}

/** `tests/c/testsuite/wasm32-wasip1` + `lseek` -> `c/lseek`; any other layout keeps its relative path. */
function caseId(rel: string, name: string): string {
  const m = /^(?:.*\/)?tests\/([^/]+)\/testsuite(?:\/[^/]+)?$/.exec(rel);
  if (m) return `${m[1]}/${name}`;
  return rel === "." ? name : `${rel}/${name}`;
}

async function readJson(path: string, what: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SuiteError(`${what}: not JSON: ${(err as Error).message}`, "invalid");
  }
}

/** The legacy spec with its defaults; a key of the wrong type is an error naming the file. */
export function parseSpec(raw: unknown, where: string): CaseSpec {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SuiteError(`${where}: a test spec must be a JSON object`, "invalid");
  }
  const o = raw as Record<string, unknown>;
  const bad = (key: string, want: string) =>
    new SuiteError(`${where}: "${key}" must be ${want}, not ${JSON.stringify(o[key])}`, "invalid");
  const args = o.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string"))
    throw bad("args", "a list of strings");
  const env = o.env ?? {};
  if (typeof env !== "object" || env === null || Array.isArray(env)) throw bad("env", "an object");
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== "string" || k === "" || k.includes("=")) throw bad("env", "an object of strings");
  }
  const root = o.root ?? null;
  if (root !== null && (typeof root !== "string" || root.split("/").includes(".."))) {
    throw bad("root", "a folder inside the test's folder");
  }
  const exitCode = o.exit_code ?? 0;
  if (typeof exitCode !== "number" || !Number.isInteger(exitCode)) throw bad("exit_code", "an integer");
  const spec: CaseSpec = { args, env: env as Record<string, string>, root, exitCode };
  for (const key of ["stdout", "stderr"] as const) {
    if (o[key] === undefined || o[key] === null) continue;
    if (typeof o[key] !== "string") throw bad(key, "a string");
    spec[key] = o[key];
  }
  return spec;
}
