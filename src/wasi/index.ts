// Running a module: inspect (magic, module vs component, imports, memory), runner (child process), supervisor.
// Knows nothing of images, tasks or containerd; the only module other folders import from `wasi/`.
export * from "./child-runner.js";
export * from "./inspect.js";
export * from "./memory-cap.js";
export * from "./proc-stats.js";
export type * from "./runner.js";
export * from "./signals.js";
export * from "./stdio.js";
