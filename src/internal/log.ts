/**
 * A tiny leveled logger writing lines to stderr (never stdout: stdout belongs to command output that scripts
 * read). `--debug` raises the level. Secrets must never reach it: callers pass `redact()`ed values.
 */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  level?: Level;
  /** Where lines go; defaults to process.stderr. */
  write?: (line: string) => void;
  /** Prefix for each line, e.g. the program name. */
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = ORDER[opts.level ?? "warn"];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const prefix = opts.name ? `${opts.name}: ` : "";
  const log = (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const tail = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : "";
    write(`${prefix}${level === "info" ? "" : `${level}: `}${msg}${tail}\n`);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything: the default for library calls. */
export const silentLogger: Logger = createLogger({ write: () => {} });

/** Replaces a secret with a fixed marker for logs and errors. */
export function redact(value: string | undefined): string {
  return value ? "<redacted>" : "";
}
