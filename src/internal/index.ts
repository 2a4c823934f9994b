/**
 * Leaf helpers every other folder may use: the one error type with gRPC codes, digests, logging, abort and
 * timeouts, state paths, containerd's identifier rule, the mount table and mounts, and V8's compile cache that
 * both launchers turn on first (compile-cache.ts, a bundle entry of its own). Imports nothing from the rest of
 * nodewasi.
 */
export { sleep } from "./abort.js";
export { parseByteSize } from "./byte-size.js";
export { compileCacheDir, enableCompileCache } from "./compile-cache.js";
export {
  type DaemonReadiness,
  daemonReadiness,
  type LaunchOutcome,
  launchDaemon,
} from "./daemon-readiness.js";
export {
  type Digest,
  DigestStream,
  digestHex,
  isDigest,
  parseDigest,
  sha256,
  verifyContent,
} from "./digest.js";
export { formatDurationSetting, parseDuration } from "./duration.js";
export { executableOnPath, lstatOrUndefined, pathExists } from "./fs.js";
export { validateIdentifier } from "./identifier.js";
export { createLogger, type Logger, redact, silentLogger } from "./log.js";
export { isMountPoint, type MountEntry, mountsBelow, overlayLowerDirs, readMountInfo } from "./mount-info.js";
export {
  type BindMount,
  bindMounts,
  mountOverlay,
  sharedBindOnItself,
  unmountAll,
  unmountBelow,
} from "./mount-ops.js";
export { defaultRoot, defaultRuntimeDir } from "./paths.js";
export {
  bootId,
  clockTicks,
  isProcessAlive,
  isSameProcess,
  mayBeOwner,
  type ProcessIdentity,
  processCommand,
  selfIdentity,
} from "./process-identity.js";
export {
  OWNER_SOCKET,
  ownedBy,
  probeRootOwner,
  type RootOwner,
  readRootOwner,
  withSocketPath,
} from "./root-owner.js";
export {
  alreadyExists,
  Code,
  dataLoss,
  failedPrecondition,
  invalidArgument,
  notFound,
  ShimError,
  type ShimErrorOptions,
  unimplemented,
} from "./shim-error.js";
export { isListening } from "./socket-probe.js";
export { readWasmFileHeader, readWasmHeader, type WasmKind } from "./wasm-header.js";
