/**
 * containerd's side of nodewasi (DESIGN "Shape"): the shim binary protocol (`containerd-shim-nodewasi-v1`
 * start, delete, the serving daemon), events forwarded to containerd over ttrpc, and containerd's socket
 * conventions. A composition root: it wires the shim's TaskService to a ttrpc server.
 */
export * from "./ttrpc-event-publisher.js";
