/**
 * The Task service and its companions (Images, Tasks), transport-free: containers, processes, the task state
 * machine, bundles and rootfs, stdio, and the events interface. Never imports `rpc`; the composition roots
 * (`cli`, `containerd`) serve these objects over gRPC or ttrpc.
 */
export { hostCgroupMode } from "./cgroup-metrics.js";
export { type EventPublisher, nullPublisher, Topic, type TopicName } from "./events.js";
export { namespaceStoreRoot, StoreImageResolver } from "./image-resolver.js";
export { ImagesService } from "./images-service.js";
export { claimRoot, type RootOwnership } from "./root-claim.js";
export { unmountRootfs } from "./rootfs-mounts.js";
export { removeLeftoverTasks, tasksDir } from "./task-dirs.js";
export { releaseTaskMounts, shareMountPoint } from "./task-rootfs.js";
export { TaskService } from "./task-service.js";
export { TasksService } from "./tasks-service.js";
