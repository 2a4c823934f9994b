/**
 * Transports for transport-free services (DESIGN decisions 1-3): a service is a `ServiceImpl` (plain async
 * methods from generated request messages to responses, throwing `ShimError`), served and called over gRPC
 * (@grpc/grpc-js, unix sockets) and ttrpc (written here: docs/TTRPC.md). Errors cross the wire through `errorToStatus` and
 * `statusToError` only. Knows nothing of tasks: it imports internal and gen, nothing else.
 */
export { type Client, type ClientOptions, closeClient, connectGrpc, createClient } from "./grpc-client.js";
export { addService, createGrpcServer, serveGrpc, shutdownServer } from "./grpc-server.js";
export { isListening, listenUnix } from "./listen-unix.js";
export type { ServiceImpl } from "./service.js";
export { connectTtrpc, createTtrpcClient, TtrpcConnection } from "./ttrpc-client.js";
export { serveTtrpc, TtrpcServer } from "./ttrpc-server.js";
