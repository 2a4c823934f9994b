/**
 * Guest arguments of `nodewasi run REF ARGS...` must reach the guest untouched, `-x` and `--help` included,
 * as with `docker run`. Commander's passThroughOptions would need positional options on the whole program,
 * which would stop `nodewasi images --root DIR` from working; instead, `--` is inserted after REF before
 * commander parses, using the program's own option table to tell option values from REF.
 */
import type { Command, Option } from "commander";

/** `argv` (as process.argv) with `--` after the image reference of a `run` command line; else unchanged. */
export function separateGuestArgs(argv: readonly string[], program: Command): string[] {
  const out = [...argv];
  const globals = program.options;
  let i = 2;
  // Global options before the command name.
  for (; i < out.length; i++) {
    const skip = optionArity(out[i]!, globals);
    if (skip < 0) break;
    i += skip;
  }
  const run = program.commands.find((c) => c.name() === "run");
  if (!run || out[i] !== "run") return out;
  const options = [...run.options, ...globals];
  for (i++; i < out.length; i++) {
    const token = out[i]!;
    if (token === "--") return out;
    const skip = optionArity(token, options);
    if (skip >= 0) {
      i += skip;
      continue;
    }
    // `token` is REF.
    if (i + 1 < out.length && out[i + 1] !== "--") out.splice(i + 1, 0, "--");
    return out;
  }
  return out;
}

/**
 * -1 when `token` is not an option; else how many following tokens it consumes (1 for `--opt VALUE`, 0 for
 * flags, `--opt=VALUE` and `-oVALUE`). An unknown option counts as a flag (commander reports it).
 */
function optionArity(token: string, options: readonly Option[]): number {
  if (!token.startsWith("-") || token === "-") return -1;
  const [name, inline] = token.startsWith("--")
    ? [token.split("=")[0], token.includes("=")]
    : [token.slice(0, 2), token.length > 2];
  const opt = options.find((o) => o.long === name || o.short === name);
  if (!opt || inline) return 0;
  return opt.required || opt.optional ? 1 : 0;
}
