/**
 * containerd's side of nodewasi (DESIGN "Shape"): the shim binary protocol (`containerd-shim-nodewasi-v1`
 * start, delete, the serving daemon), events forwarded to containerd over ttrpc, and containerd's socket
 * conventions. A composition root: it hands the shim's daemon (shim/daemon.ts) its transport, ttrpc (or gRPC).
 * Nothing else imports this folder; bin/containerd-shim-nodewasi-v1 loads shim-main.js itself, so that
 * `start` loads no more than it needs.
 */
export { shimMain } from "./shim-main.js";
