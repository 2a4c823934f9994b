/**
 * The exit statuses of `nodewasi` commands that manage images, mapped from the gRPC code of the `ShimError`
 * that ended the command, in this one place. Scripts can tell "not there" from "not allowed" from "network
 * down" from "corrupt" without parsing messages. (`nodewasi run` exits with the guest's status instead.)
 */
import { Code, ShimError } from "../internal/index.js";

export const ExitCode = {
  Ok: 0,
  /** Anything not listed below. */
  General: 1,
  /** Bad command line: unknown option, missing argument, invalid reference or platform. */
  Usage: 2,
  /** The image, tag, blob or file does not exist. */
  NotFound: 3,
  /** The registry wants credentials, or refused the ones given. */
  Auth: 4,
  /** The registry could not be reached, or timed out. */
  Unavailable: 5,
  /** Content did not match its digest or size, was malformed, or was refused (a hostile layer). */
  DataLoss: 6,
  /** Interrupted (SIGINT), as shells report 128+2. */
  Interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit status for anything thrown (converted with `ShimError.from`). */
export function exitCodeFor(err: unknown): ExitCodeValue {
  switch (ShimError.from(err).code) {
    case Code.InvalidArgument:
      return ExitCode.Usage;
    case Code.NotFound:
      return ExitCode.NotFound;
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return ExitCode.Auth;
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return ExitCode.Unavailable;
    case Code.DataLoss:
      return ExitCode.DataLoss;
    case Code.Canceled:
      return ExitCode.Interrupted;
    default:
      return ExitCode.General;
  }
}

/**
 * Reclassifies what a pull threw once the command line has been checked: an `InvalidArgument` from the image
 * half is then about the image's content (a malformed manifest, a hostile layer, a module that is not wasm),
 * not the user's input, and exits 6 like other content that cannot be used. Retrying cannot help either.
 */
export function asContentError(err: unknown): unknown {
  if (!(err instanceof ShimError) || err.code !== Code.InvalidArgument) return err;
  return new ShimError(Code.DataLoss, err.rawMessage, { cause: err, details: err.details });
}

/** The table printed at the end of `nodewasi --help`. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    general failure
  2    usage: bad option, argument, reference or platform
  3    not found: image, tag, blob or file
  4    authentication or permission refused by the registry
  5    registry unreachable or timed out
  6    content corrupt or refused: digest or size mismatch, malformed manifest, hostile layer
  130  interrupted (Ctrl-C)`;
