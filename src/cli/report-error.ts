/**
 * The one place where the `nodewasi` command prints a failure: `nodewasi: <message>` on stderr, a hint when
 * one helps, and with `--debug` the details, the cause chain and the stacks. Nothing goes to stdout, so a
 * script reading stdout never has to filter errors out.
 */
import { Code, ShimError } from "../internal/index.js";

export interface ReportErrorOptions {
  /** Print details, causes and stacks. */
  debug?: boolean;
  /** Where lines go (default: process.stderr). */
  write?: (text: string) => void;
}

/** Messages that already end with advice (`...; check the host`, `...; run \`nodewasi pull X\``). */
const ADVICE_RE = /;\s*(?:check|try|run|use|add|log in|pass|set|remove|pull|annotate|push|write|give|ask)\b/i;

/**
 * A hint for the user, keyed by what went wrong. `details.hint` from the thrower wins; no generic hint is added
 * to a message that already says what to try.
 */
export function hintFor(err: ShimError): string | undefined {
  const given = err.details.hint;
  if (typeof given === "string" && given) return given;
  if (ADVICE_RE.test(err.rawMessage)) return undefined;
  switch (err.code) {
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return "log in with `docker login REGISTRY` (nodewasi reads ~/.docker/config.json), or check the repository name";
    case Code.Unavailable:
      return err.temporary
        ? "the registry may be busy or unreachable; check the address and your network, then try again"
        : "check the registry address and your network; for a registry served over plain HTTP add --plain-http";
    case Code.DeadlineExceeded:
      return "the operation timed out; check your network and try again";
    case Code.DataLoss:
      // Only a transfer's mismatch is helped by pulling again. A refused layer (an escaping path, a device
      // node, a limit) or malformed content says in its message what was wrong; pulling it again gives the same.
      return err.temporary
        ? "content did not match its digest; pull again, and if it persists the source serves corrupt content"
        : undefined;
    default:
      return err.temporary ? "this may be temporary; try again" : undefined;
  }
}

/** Prints `err` for a person. Returns the text written (handy in tests). */
export function reportError(err: unknown, opts: ReportErrorOptions = {}): string {
  const e = ShimError.from(err);
  const lines: string[] = [];
  const message =
    e.code === Code.Canceled ? `interrupted${e.rawMessage ? `: ${e.rawMessage}` : ""}` : e.rawMessage;
  lines.push(`nodewasi: ${message}`);
  const hint = e.code === Code.Canceled ? undefined : hintFor(e);
  if (hint) lines.push(`hint: ${hint}`);
  if (opts.debug) lines.push(...debugLines(e));
  const text = `${lines.join("\n")}\n`;
  (opts.write ?? ((s: string) => process.stderr.write(s)))(text);
  return text;
}

/** Code, details, then each error of the cause chain with its stack. */
function debugLines(e: ShimError): string[] {
  const lines = [`debug: code ${Code[e.code]} (${e.code})${e.temporary ? ", temporary" : ""}`];
  const details = Object.fromEntries(Object.entries(e.details).filter(([k]) => k !== "hint"));
  if (Object.keys(details).length) lines.push(`debug: details ${JSON.stringify(details)}`);
  const seen = new Set<unknown>();
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && !seen.has(cur) && depth < 10; depth++) {
    seen.add(cur);
    const prefix = depth === 0 ? "debug: stack" : "debug: caused by";
    if (cur instanceof Error) {
      lines.push(`${prefix}: ${cur.stack ?? `${cur.name}: ${cur.message}`}`);
      cur = cur.cause;
    } else {
      lines.push(`${prefix}: ${String(cur)}`);
      cur = undefined;
    }
  }
  return lines;
}
