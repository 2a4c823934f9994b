/**
 * The one error type of nodewasi. Every failure a user or a peer can see is a `ShimError` carrying one of the
 * 16 gRPC status codes, so the ttrpc and gRPC adapters map it to the wire in one place, and the CLI maps it to
 * an exit code. Messages read `[not_found] image docker.io/library/x:latest: ...`, as connect-es prints them.
 */

/** gRPC status codes (https://grpc.io/docs/guides/status-codes/); the numbers are the wire values. */
export enum Code {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** snake_case name of a code, as used in message prefixes: `Code.NotFound` -> `not_found`. */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase());
}

export interface ShimErrorOptions {
  cause?: unknown;
  /** Extra facts for `--json` output and logs (HTTP status, registry error codes, digest, path...). */
  details?: Record<string, unknown>;
  /** Whether trying the same thing again may succeed (network faults, 5xx, 429). */
  temporary?: boolean;
}

export class ShimError extends Error {
  override readonly name = "ShimError";
  readonly code: Code;
  /** The message without the `[code]` prefix. */
  readonly rawMessage: string;
  readonly details: Record<string, unknown>;
  readonly temporary: boolean;

  constructor(code: Code, message: string, options: ShimErrorOptions = {}) {
    super(
      `[${codeName(code)}] ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.rawMessage = message;
    this.details = options.details ?? {};
    this.temporary = options.temporary ?? false;
  }

  /**
   * Converts anything thrown into a `ShimError`: a `ShimError` is returned as is, an `AbortError` becomes
   * `Canceled`, a Node system error keeps its errno text, anything else is `Unknown` (or `fallback`).
   */
  static from(err: unknown, fallback: Code = Code.Unknown): ShimError {
    if (err instanceof ShimError) return err;
    if (err instanceof Error) {
      if (err.name === "AbortError") return new ShimError(Code.Canceled, err.message, { cause: err });
      if (err.name === "TimeoutError")
        return new ShimError(Code.DeadlineExceeded, err.message, { cause: err });
      const errno = (err as NodeJS.ErrnoException).code;
      const code =
        errno === "ENOENT" ? Code.NotFound : errno === "ENOSPC" ? Code.ResourceExhausted : fallback;
      return new ShimError(code, err.message, { cause: err });
    }
    return new ShimError(fallback, String(err));
  }
}

/** Shorthands that read well where thrown: `throw notFound("image ...")`. */
export const invalidArgument = (msg: string, o?: ShimErrorOptions) =>
  new ShimError(Code.InvalidArgument, msg, o);
export const notFound = (msg: string, o?: ShimErrorOptions) => new ShimError(Code.NotFound, msg, o);
export const failedPrecondition = (msg: string, o?: ShimErrorOptions) =>
  new ShimError(Code.FailedPrecondition, msg, o);
export const alreadyExists = (msg: string, o?: ShimErrorOptions) => new ShimError(Code.AlreadyExists, msg, o);
export const unimplemented = (msg: string, o?: ShimErrorOptions) => new ShimError(Code.Unimplemented, msg, o);
export const dataLoss = (msg: string, o?: ShimErrorOptions) => new ShimError(Code.DataLoss, msg, o);
