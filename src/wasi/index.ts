// Running a module: inspect (magic, module vs component, imports, memory), runner (child process), supervisor,
// and the rotating logs runners write (read back by log-reader.ts).
// Knows nothing of images, tasks or containerd; the only module other folders import from `wasi/`.
export * from "./child-runner.js";
export * from "./inspect.js";
export * from "./log-reader.js";
export * from "./memory-cap.js";
export * from "./proc-stats.js";
export * from "./rotating-log.js";
export type * from "./runner.js";
export * from "./signals.js";
export * from "./stdio.js";
