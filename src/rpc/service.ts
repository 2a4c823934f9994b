/**
 * Dispatch helpers over service implementations (the `ServiceImpl` shape lives in src/gen/service-impl.ts,
 * where `shim` can implement it without importing `rpc`). Failures thrown by a method become wire statuses
 * with `errorToStatus`.
 */
import type { DescMethod } from "@bufbuild/protobuf";

export type { CallContext, MethodImpl, ServiceImpl } from "../gen/index.js";

import type { CallContext } from "../gen/index.js";

/** The kinds of RPC the transports carry. */
export function isSupportedMethod(method: DescMethod): boolean {
  return method.methodKind === "unary" || method.methodKind === "server_streaming";
}

/**
 * The implementation of `method` in `impl`, bound to it, for transports that dispatch by descriptor; throws a
 * `TypeError` naming the RPC when `impl` lacks it (a wiring bug, found when the service is registered).
 */
export function methodOf(
  impl: object,
  method: DescMethod,
): (request: unknown, ctx: CallContext) => Promise<unknown> | AsyncIterable<unknown> {
  const fn = (impl as Record<string, unknown>)[method.localName];
  if (typeof fn !== "function") {
    throw new TypeError(`service ${method.parent.typeName}: no implementation of ${method.name}`);
  }
  return fn.bind(impl) as (request: unknown, ctx: CallContext) => Promise<unknown> | AsyncIterable<unknown>;
}
