/**
 * The flags of `nodewasi run` turned into `nodewasi.v1.CreateOptions`, checked on the client so a typo fails
 * at once with a usage error (exit 2) instead of after a pull.
 */
import { isAbsolute, resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type CreateOptions, CreateOptionsSchema, PullPolicy } from "../gen/index.js";
import { invalidArgument, parseByteSize } from "../internal/index.js";

/** `64m`, `1g`, `512k`, `65536` (bytes; k/m/g are powers of 1024, an optional trailing `b` or `ib`). */
export function parseMemory(value: string): number {
  const bytes = parseByteSize(value) ?? Number.NaN;
  if (!(bytes >= 65536)) {
    throw invalidArgument(
      `--memory ${value}: not a size of at least 64k (one wasm page); give bytes or a number with k, m or g, e.g. 64m`,
    );
  }
  return bytes;
}

/** `KEY=VALUE`; a bare `KEY` takes the value from this process's environment, as `docker run -e` does. */
export function parseEnv(entry: string, env: NodeJS.ProcessEnv = process.env): string {
  const eq = entry.indexOf("=");
  const key = eq < 0 ? entry : entry.slice(0, eq);
  if (!key) throw invalidArgument(`-e ${entry}: no variable name before "="; write -e KEY=VALUE`);
  if (eq >= 0) return entry;
  const value = env[key];
  if (value === undefined) {
    throw invalidArgument(`-e ${entry}: ${key} is not set here; write -e ${key}=VALUE`);
  }
  return `${key}=${value}`;
}

export interface ParsedMount {
  source: string;
  destination: string;
  readonly: boolean;
}

/**
 * `HOST:GUEST[:rw]`, HOST made absolute. `:ro` is refused: node:wasi preopens are always writable and the
 * bwrap sandbox binds mounts read-write, so nothing would enforce it, and a read-only mount that is not
 * read-only is worse than none.
 */
export function parseMount(spec: string): ParsedMount {
  const parts = spec.split(":");
  const [host, guest, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !host || !guest) {
    throw invalidArgument(`--mount ${spec}: expected HOST:GUEST, e.g. --mount ./data:/data`);
  }
  if (!isAbsolute(guest)) throw invalidArgument(`--mount ${spec}: the guest path ${guest} must be absolute`);
  if (mode === "ro") {
    throw invalidArgument(
      `--mount ${spec}: read-only mounts cannot be enforced (node:wasi preopens are writable); drop :ro, or mount a copy`,
    );
  }
  if (mode !== undefined && mode !== "rw") {
    throw invalidArgument(`--mount ${spec}: unknown mode ${mode}; the only mode is rw (the default)`);
  }
  return { source: resolve(host), destination: guest, readonly: false };
}

export interface RunOptionsInput {
  image: string;
  args: string[];
  env: string[];
  mounts: string[];
  memory?: string;
  platform?: string;
  plainHttp?: boolean;
  /** --rm: the shim deletes the task once it has exited (CreateOptions.auto_remove). */
  autoRemove?: boolean;
}

/** The CreateOptions of a run; the image is already in the store, so the shim never pulls (NEVER). */
export function createOptionsFor(i: RunOptionsInput): CreateOptions {
  return create(CreateOptionsSchema, {
    image: i.image,
    args: i.args,
    env: i.env.map((e) => parseEnv(e)),
    mounts: i.mounts.map(parseMount),
    memoryLimit: i.memory === undefined ? 0n : BigInt(parseMemory(i.memory)),
    platform: i.platform ?? "",
    plainHttp: i.plainHttp ?? false,
    pullPolicy: PullPolicy.NEVER,
    autoRemove: i.autoRemove ?? false,
  });
}
