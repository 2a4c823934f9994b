/**
 * Protobuf messages and service descriptors generated from proto/ by `npm run generate` (buf + protoc-gen-es);
 * only this file, service-impl.ts and task-names.ts are written by hand. Each message `M` comes as a type `M`
 * and a schema `MSchema`: `create(MSchema, {...})`, `toBinary(MSchema, m)`, `fromBinary(MSchema, bytes)` from
 * "@bufbuild/protobuf"; `anyPack`, `anyUnpack`, `timestampFromDate`, `EmptySchema` from "@bufbuild/protobuf/wkt".
 *
 * Names are flat except where two packages collide: google.rpc.Status is `RpcStatus` (containerd's task `Status` enum keeps its name),
 * ttrpc's frame payloads are `ttrpc.Request` / `ttrpc.Response`, and containerd/cgroups' metrics (the same
 * message names in two packages) are `cgroupsV1.*` / `cgroupsV2.*`.
 */

// containerd.task.v2: the Task service (`Task`) and its messages, served under v2 and v3 names. containerd.task.v3
// is not generated: proto/.../v3/shim.proto is the same service message for message (buf.gen.yaml).
export * from "./containerd/runtime/task/v2/shim_pb.js";
// containerd.types.Mount; containerd.v1.types Status, ExitReason, Process, ProcessInfo.
export * from "./containerd/types/mount_pb.js";
// containerd.types RuntimeInfo / RuntimeVersion: what a shim prints for `-info`.
export * from "./containerd/types/introspection_pb.js";
export * from "./containerd/types/task/task_pb.js";
// containerd.events Task* events, and the Events service they are forwarded through.
export * from "./containerd/events/task_pb.js";
export * from "./containerd/services/ttrpc/events/v1/events_pb.js";
// io.containerd.cgroups.v1 / v2 Metrics: what Task.Stats answers, by the host's cgroup mode.
export * as cgroupsV1 from "./containerd/cgroups/cgroup1/stats/metrics_pb.js";
export * as cgroupsV2 from "./containerd/cgroups/cgroup2/stats/metrics_pb.js";
// google.rpc.Status and ttrpc's Request/Response, for the ttrpc transport.
export {
  file_google_rpc_status,
  type Status as RpcStatus,
  StatusSchema as RpcStatusSchema,
} from "./google/rpc/status_pb.js";
export * as ttrpc from "./ttrpc/request_pb.js";
// nodewasi.v1: Images, Tasks, CreateOptions.
export * from "./nodewasi/v1/create_options_pb.js";
export * from "./nodewasi/v1/images_pb.js";
export * from "./nodewasi/v1/tasks_pb.js";
// Hand-written: the transport-free shape of a service implementation (ServiceImpl, CallContext), and the
// names the Task service answers under.
export type * from "./service-impl.js";
export { TASK_NAMES } from "./task-names.js";
