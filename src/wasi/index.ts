/**
 * Running a module: inspect (magic, module vs component, imports, memory), the Runner seam and its child-process
 * implementation (warm pool, bwrap sandbox), stdio URIs, /proc stats, and the rotating logs runners write (read
 * back by log-reader.ts). Knows nothing of images, tasks or containerd; the only module other folders import
 * from `wasi/`, and it names only what they use.
 */
export { ChildRunner, type ChildRunnerOptions } from "./child-runner.js";
export { inspectWasm, type WasmInfo } from "./inspect.js";
export { copyLog, logExists, removeLog } from "./log-reader.js";
export { sumStats } from "./proc-stats.js";
export { parseLogOptions } from "./rotating-log.js";
export type { ExitStatus, ProcessStats, Runner, RunningProcess, RunSpec, Stdio } from "./runner.js";
export { killedBy, signalName } from "./signals.js";
export { type StdioUris, stdioTargets, stdioUris } from "./stdio.js";
