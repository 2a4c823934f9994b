/**
 * containerd's side of nodewasi (DESIGN "Shape"): the shim binary protocol (`containerd-shim-nodewasi-v1`
 * start, delete, the serving daemon), events forwarded to containerd over ttrpc, and containerd's socket
 * conventions. A composition root: it hands the shim's daemon (shim/daemon.ts) its transport, ttrpc (or gRPC).
 */

export * from "./bootstrap.js";
export * from "./shim-delete.js";
export * from "./shim-flags.js";
export * from "./shim-main.js";
export * from "./shim-serve.js";
export * from "./shim-start.js";
export * from "./socket-address.js";
export * from "./stdin-holder.js";
export * from "./task-server.js";
export * from "./ttrpc-event-publisher.js";
