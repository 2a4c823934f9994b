/**
 * containerd's side of nodewasi (DESIGN "Shape"): the shim binary protocol (`containerd-shim-nodewasi-v1`
 * start, delete, the serving daemon), events forwarded to containerd over ttrpc, and containerd's socket
 * conventions. A composition root: it wires the shim's TaskService to a ttrpc server. Nothing else imports
 * this folder; bin/containerd-shim-nodewasi-v1 loads shim-main.js itself, so that `start` loads no more than it
 * needs.
 */
export { shimMain } from "./shim-main.js";
