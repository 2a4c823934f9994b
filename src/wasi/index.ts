// Running a module: inspect (magic, module vs component, imports, memory), runner (child process), supervisor.
// Knows nothing of images, tasks or containerd; the only module other folders import from `wasi/`.
export * from "./inspect.js";
