/**
 * The `nodewasi` command line (commander program, one file per command, one error reporter, exit codes): a
 * composition root over every folder below it. Store commands (pull, images, build, push, copy, check) use
 * `oci/` in-process; task commands (run, ps, kill, logs, rm) are clients of the shim daemon over `rpc/` and
 * `gen/`, and `shim serve` is that daemon (`shim/daemon.ts` with a gRPC server). `bin/nodewasi` runs `main()`;
 * nothing else in nodewasi imports this folder, except the tests (exit codes, the program).
 */
export { EXIT_CODES_HELP, ExitCode, type ExitCodeValue, exitCodeFor } from "./exit-code.js";
export { createProgram, main, packageVersion } from "./main.js";
export { reportError } from "./report-error.js";
