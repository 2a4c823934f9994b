/**
 * The `nodewasi` command line: a composition root over `oci/`, `wasi/` and `internal/` (commander program,
 * one file per command, one error reporter, exit codes). `bin/nodewasi` runs `main()`; nothing else in
 * nodewasi imports this folder.
 */
export { EXIT_CODES_HELP, ExitCode, type ExitCodeValue, exitCodeFor } from "./exit-code.js";
export { createProgram, main, packageVersion } from "./main.js";
export { reportError } from "./report-error.js";
