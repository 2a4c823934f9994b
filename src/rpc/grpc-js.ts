/**
 * @grpc/grpc-js, loaded at its first use rather than when `rpc/` is imported: the shim daemon in its default
 * ttrpc mode never serves gRPC, and grpc-js (CommonJS, ~150 ms to load) was the largest single part of its
 * boot, which containerd waits for on every `ctr run`. Types come from `import type`, which costs nothing.
 */
import { createRequire } from "node:module";
import type * as Grpc from "@grpc/grpc-js";

const require = createRequire(import.meta.url);
let loaded: typeof Grpc | undefined;

export function grpcJs(): typeof Grpc {
  loaded ??= require("@grpc/grpc-js") as typeof Grpc;
  return loaded;
}
