/**
 * The `nodewasi` command: the program, its global options, its subcommands, and the mapping of how a command
 * ended to an exit status. `bin/nodewasi` calls `main()` and exits with what it returns.
 *
 * Commands load `oci/` and `wasi/` lazily (inside their actions), so `--help` stays fast and works even when
 * a part of the image half fails to load. A command file imports at its top only what registering it needs:
 * `gen/` (protobuf's runtime) and the shim client wait for the action too. main-loads.test.ts fails when an
 * import chain pulls grpc-js, protobuf or undici into `--help` or an image command.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { defaultRoot, parseDuration } from "../internal/index.js";
import { buildCommand } from "./build-command.js";
import { checkCommand } from "./check-command.js";
import type { CliState } from "./context.js";
import { copyCommand } from "./copy-command.js";
import { EXIT_CODES_HELP, ExitCode, exitCodeFor } from "./exit-code.js";
import { imagesCommand } from "./images-command.js";
import { inspectCommand } from "./inspect-command.js";
import { killCommand } from "./kill-command.js";
import { logsCommand } from "./logs-command.js";
import { pruneCommand } from "./prune-command.js";
import { psCommand } from "./ps-command.js";
import { pullCommand } from "./pull-command.js";
import { pushCommand } from "./push-command.js";
import { reportError } from "./report-error.js";
import { rmCommand } from "./rm-command.js";
import { rmiCommand } from "./rmi-command.js";
import { separateGuestArgs } from "./run-argv.js";
import { runCommand } from "./run-command.js";
import { shimCommand } from "./shim-command.js";
import { tagCommand } from "./tag-command.js";

/**
 * The package version, read from package.json beside dist/ (`src/cli`, `dist/src/cli` and the bundle's
 * `dist/bundle/esm` are all 3 deep).
 */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Builds the program; `state` collects the exit status of failures that do not end a command. */
export function createProgram(state: CliState): Command {
  const program = new Command("nodewasi")
    .description(
      "Run WebAssembly (WASI preview 1) OCI images on Node.js: run wasm images; pull, build, push, copy, inspect and manage them.",
    )
    .version(packageVersion(), "-V, --version", "print the version of nodewasi")
    .option("--root <dir>", "state directory (content store)", defaultRoot())
    .option(
      "--address <path>",
      "unix socket of the shim daemon (default: $NODEWASI_ADDRESS, else nodewasi.sock in the runtime dir)",
    )
    .addOption(
      new Option(
        "--registry-timeout <duration>",
        "longest a registry may stay silent (connecting, before answering, mid-transfer) before a try is given up: 30s, 2m, 0 for never (default 30s)",
      )
        .env("NODEWASI_REGISTRY_TIMEOUT")
        .argParser(registryTimeout),
    )
    .option("--debug", "log what happens, and print causes and stacks of errors")
    .helpOption("-h, --help", "show help")
    .helpCommand("help [command]", "show help for a command")
    .showSuggestionAfterError(true)
    .showHelpAfterError("hint: add --help for usage and examples")
    .exitOverride()
    .configureOutput({
      // Commander prints `error: unknown option '--x'`; say who is talking, as every other message does.
      outputError: (text, write) => write(`nodewasi: ${text.replace(/^error: /, "")}`),
    })
    .addHelpText(
      "after",
      `
The state root defaults to $NODEWASI_ROOT, else /var/lib/nodewasi as root, else ~/.local/share/nodewasi.
A command that finds the store locked by another process says who holds it and waits while that process
runs and renews its lock; $NODEWASI_LOCK_TIMEOUT (seconds) bounds the wait.
--registry-timeout bounds each silence of a registry, its token server or a blob's storage host, not a whole
transfer: a slow download that keeps moving is never given up. A stalled request is tried twice, so a hung
registry fails within about two timeouts (exit 5, naming the host and what it stalled on).
The shim's socket defaults to $NODEWASI_ADDRESS, else /run/nodewasi/nodewasi.sock as root, else
$XDG_RUNTIME_DIR/nodewasi/nodewasi.sock; \`nodewasi run\` starts a shim there when none listens.

Examples:
  $ nodewasi run oci:examples/images/hello:latest
  $ nodewasi run --rm 127.0.0.1:5000/hello:latest a b
  $ nodewasi pull ghcr.io/containerd/runwasi/wasi-demo-app:latest
  $ nodewasi pull oci:./examples/images/hello:latest
  $ nodewasi images
  $ nodewasi inspect --json oci:./examples/images/hello:latest
  $ nodewasi --root /tmp/nodewasi pull --plain-http 127.0.0.1:5000/hello:v1
  $ nodewasi build examples/hello/hello.wasm -t hello:v1 && nodewasi run --rm hello:v1
  $ nodewasi push 127.0.0.1:5000/hello:v1 && nodewasi copy 127.0.0.1:5000/hello:v1 oci:./hello:v1
  $ nodewasi --registry-timeout 2m pull registry.far-away.example/tools/hello:v1
  $ nodewasi check --repair
${EXIT_CODES_HELP}
`,
    );
  runCommand(program, state);
  psCommand(program, state);
  logsCommand(program, state);
  killCommand(program, state);
  rmCommand(program, state);
  pullCommand(program, state);
  imagesCommand(program, state);
  inspectCommand(program, state);
  rmiCommand(program, state);
  pruneCommand(program, state);
  checkCommand(program, state);
  buildCommand(program, state);
  shimCommand(program, state, packageVersion());
  pushCommand(program, state);
  tagCommand(program, state);
  copyCommand(program, state);
  return program;
}

/** Parses `--registry-timeout` (and `$NODEWASI_REGISTRY_TIMEOUT`) into milliseconds, for commander. */
function registryTimeout(value: string): number {
  try {
    return parseDuration(value, "--registry-timeout");
  } catch {
    throw new InvalidArgumentError("give a duration such as 30s, 2m or 500ms (0 for no limit), at most 24h");
  }
}

/** Runs the command line `argv` (as `process.argv`) and returns the exit status. Never throws. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const state: CliState = { exitCode: ExitCode.Ok };
  const program = createProgram(state);
  try {
    await program.parseAsync(separateGuestArgs(argv, program));
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end through exitOverride too, with exit code 0; everything else is a usage error
      // that commander has already printed.
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    reportError(err, { debug: program.opts<{ debug?: boolean }>().debug === true });
    const code = exitCodeFor(err);
    return state.exitCode === ExitCode.Interrupted ? state.exitCode : code;
  }
}
