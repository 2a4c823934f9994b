/**
 * `containerd-shim-nodewasi-v1`: the shim binary containerd runs for runtime type `io.containerd.nodewasi.v1`
 * (reference containerd-shim-protocol.md §0-§1). Dispatches on Go-style flags and the action:
 *
 * - `-v` / `-version`: version text on stdout, exit 0.
 * - `-info`: a `containerd.types.RuntimeInfo{name, version}` protobuf on stdout (§1.2; 1.6 and 1.7 never
 *   call it, 2.2+ calls it on every create and only logs a failure).
 * - `start`: the address only on stdout, nothing on stderr, exit 0 (shim-start.ts).
 * - `delete`: a `DeleteResponse` on stdout, exit 0 even when the daemon is gone (shim-delete.ts).
 * - `serve`: the daemon (shim-serve.ts), started by `start`.
 *
 * Returns the exit code; writes go through `out` so a caller can wait for stdout to drain.
 *
 * `start` and `delete` are short-lived processes on containerd's critical path of every `ctr run` (delete runs
 * from the connection's on-close callback, and containerd waits for it), so each action loads only its own
 * module, when it runs: `start` and `delete` load neither protobuf, grpc-js nor the Task service (a test in
 * shim-main.test.ts lists what they load).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { daemonReadiness, ShimError } from "../internal/index.js";
import { parseShimFlags } from "./shim-flags.js";

export const SHIM_NAME = "containerd-shim-nodewasi-v1";
export const RUNTIME_TYPE = "io.containerd.nodewasi.v1";

export interface ShimIo {
  stdout: (data: string | Uint8Array) => void;
  stderr: (text: string) => void;
  stdin: NodeJS.ReadableStream;
  /** The script to re-run as the daemon. */
  script: string;
}

/**
 * nodewasi's version from package.json (src/containerd, dist/src/containerd and the bundle's dist/bundle/esm
 * are all 3 deep).
 */
export function shimVersion(): string {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    for (const up of ["../..", "../../.."]) {
      try {
        const pkg = JSON.parse(readFileSync(join(here, up, "package.json"), "utf8")) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === "nodewasi") return pkg.version ?? "unknown";
      } catch {}
    }
  } catch {}
  return "unknown";
}

export async function shimMain(argv: readonly string[], io: ShimIo): Promise<number> {
  let flags: ReturnType<typeof parseShimFlags>;
  try {
    flags = parseShimFlags(argv);
  } catch (err) {
    io.stderr(`${SHIM_NAME}: ${(err as ShimError).rawMessage ?? (err as Error).message}\n`);
    return 2;
  }
  const version = shimVersion();
  if (flags.version) {
    io.stdout(`${SHIM_NAME}:\n  Version:  ${version}\n  Runtime:  node ${process.version}\n`);
    return 0;
  }
  if (flags.info) {
    // containerd 2.2+ runs `-info` on every create for shims other than runc's (1.6/1.7 never do).
    if (!(io.stdin as { isTTY?: boolean }).isTTY) await drainStdin(io.stdin);
    io.stdout(await runtimeInfo(version));
    return 0;
  }
  const bundle = flags.bundle || process.cwd();
  switch (flags.action) {
    case "start":
      try {
        const { shimStart } = await import("./shim-start.js");
        io.stdout(await shimStart(flags, { script: io.script, bundle, stdin: io.stdin }));
        return 0;
      } catch (err) {
        io.stderr(`${SHIM_NAME} start: ${ShimError.from(err).message}\n`);
        return 1;
      }
    case "delete": {
      const { shimDelete } = await import("./shim-delete.js");
      const { response, warnings } = await shimDelete(bundle);
      for (const w of warnings) io.stderr(`${SHIM_NAME} delete: ${w}\n`);
      io.stdout(response);
      return 0;
    }
    case "serve": {
      if (!flags.socket) {
        io.stderr(`${SHIM_NAME} serve: -socket is required\n`);
        return 2;
      }
      try {
        // The sandbox probe (a child process) runs on another core while the daemon's modules load.
        const { ChildRunner } = await import("../wasi/index.js");
        const probing = ChildRunner.probeIsolation();
        const { shimServe } = await import("./shim-serve.js");
        await probing;
        await shimServe(flags, { bundle, version, readiness: daemonReadiness() });
        return 0;
      } catch {
        return 1;
      }
    }
    default:
      io.stderr(
        `${SHIM_NAME}: ${flags.action ? `unknown action ${flags.action}` : "no action"}; ` +
          "containerd runs it as `-namespace NS -address ADDR -id ID start` or `... -bundle DIR delete`\n",
      );
      return 2;
  }
}

/** The `-info` answer: the runtime type and nodewasi's version; no options, features or annotations. */
export async function runtimeInfo(version: string): Promise<Uint8Array> {
  const [{ create, toBinary }, { RuntimeInfoSchema }] = await Promise.all([
    import("@bufbuild/protobuf"),
    import("../gen/index.js"),
  ]);
  return toBinary(RuntimeInfoSchema, create(RuntimeInfoSchema, { name: RUNTIME_TYPE, version: { version } }));
}

async function drainStdin(stream: NodeJS.ReadableStream): Promise<void> {
  try {
    for await (const _ of stream) {
      // Runtime options: none apply to nodewasi.
    }
  } catch {}
}
