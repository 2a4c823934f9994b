/**
 * The Task service and its companions (Images, Tasks), transport-free: containers, processes, the task state
 * machine, bundles and rootfs, stdio, and the events interface; and the daemon built around them (daemon.ts:
 * runner, resolver, Task service, root ownership, idle watch, one stop order). Never imports `rpc`: the
 * composition roots (`cli`, `containerd`) hand the daemon their transport, gRPC or ttrpc.
 */
export * from "./bundle.js";
export * from "./bundle-image.js";
export * from "./cgroup-metrics.js";
export * from "./daemon.js";
export * from "./events.js";
export * from "./idle-watch.js";
export * from "./image-annotations.js";
export * from "./image-resolver.js";
export * from "./images-service.js";
export * from "./logging-publisher.js";
export * from "./pull-codec.js";
export * from "./root-claim.js";
export * from "./rootfs-mounts.js";
export * from "./state.js";
export * from "./task-dirs.js";
export * from "./task-process.js";
export * from "./task-rootfs.js";
export * from "./task-service.js";
export * from "./task-setup.js";
export * from "./tasks-service.js";
