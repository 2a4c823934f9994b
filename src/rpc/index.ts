/**
 * Transports for transport-free services (DESIGN decisions 1-3): a service is a `ServiceImpl` (plain async
 * methods from generated request messages to responses, throwing `ShimError`), served and called over gRPC
 * (@grpc/grpc-js, unix sockets) and ttrpc (written here: docs/TTRPC.md). Errors cross the wire through `errorToStatus` and
 * `statusToError` only. Knows nothing of tasks: it imports internal and gen, nothing else.
 */
export * from "./grpc-client.js";
export * from "./grpc-server.js";
export * from "./listen-unix.js";
export * from "./service.js";
export * from "./status.js";
export * from "./ttrpc-client.js";
export * from "./ttrpc-frame.js";
export * from "./ttrpc-server.js";
