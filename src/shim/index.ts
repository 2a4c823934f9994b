/**
 * The Task service and its companions (Images, Tasks), transport-free: containers, processes, the task state
 * machine, bundles and rootfs, stdio, and the events interface; and the daemon built around them (daemon.ts:
 * runner, resolver, Task service, root ownership, idle watch, one stop order). Never imports `rpc`: the
 * composition roots (`cli`, `containerd`) hand the daemon their transport, gRPC or ttrpc.
 */
export { hostCgroupMode } from "./cgroup-metrics.js";
export {
  type Daemon,
  type DaemonServer,
  type SharedDiscovery,
  startDaemon,
  stopOnSignals,
} from "./daemon.js";
export { type EventPublisher, nullPublisher, type TaskEvent, type TopicName, taskEvent } from "./events.js";
export {
  type ImageResolver,
  namespaceStoreRoot,
  type ResolveRequest,
  StoreImageResolver,
} from "./image-resolver.js";
export { ImagesService } from "./images-service.js";
export { loggingPublisher } from "./logging-publisher.js";
export { pullEventOf, pullPolicyMsg } from "./pull-codec.js";
export { claimRoot, type RootOwnership } from "./root-claim.js";
export { unmountRootfs } from "./rootfs-mounts.js";
export { removeLeftoverTasks, tasksDir } from "./task-dirs.js";
export { releaseTaskMounts } from "./task-rootfs.js";
export { TaskService } from "./task-service.js";
export { TasksService } from "./tasks-service.js";
