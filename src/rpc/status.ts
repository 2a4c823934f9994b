/**
 * The one place where errors become wire statuses and back, for every transport (STYLE "Errors"): a gRPC
 * status on a grpc-js call, a `google.rpc.Status` in a ttrpc Response. containerd reads only the code and the
 * message (errdefs.FromGRPC), so that is all that travels.
 */
import { Code, ShimError } from "../internal/index.js";

/** A status as both transports carry it: a gRPC code (never OK for an error) and a message. */
export interface WireStatus {
  code: Code;
  message: string;
}

/**
 * The status for anything a service threw. A `ShimError` keeps its code and its message without the
 * `[code]` prefix (the receiver adds its own); an `AbortError` is Canceled, a `TimeoutError` DeadlineExceeded,
 * a Node errno error keeps its text (ENOENT is NotFound), anything else is Unknown: the mapping of
 * `ShimError.from`. A `ShimError` whose code is OK (a bug) becomes Unknown, so an error never reads as success.
 */
export function errorToStatus(err: unknown): WireStatus {
  const e = ShimError.from(err, Code.Unknown);
  const code = e.code === Code.OK || !(e.code in Code) ? Code.Unknown : e.code;
  return { code, message: e.rawMessage };
}

/**
 * The `ShimError` for a status a peer sent: same code (an unknown or OK code reads as Unknown) and message, so
 * a client sees `[not_found] task t1 ...` with `code === Code.NotFound`. `cause` is kept for debugging.
 */
export function statusToError(status: { code: number; message: string }, cause?: unknown): ShimError {
  const code = status.code in Code && status.code !== Code.OK ? (status.code as Code) : Code.Unknown;
  return new ShimError(code, status.message, cause === undefined ? {} : { cause });
}
