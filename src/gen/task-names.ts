/**
 * The names the one Task service is served under (DESIGN decision 1): containerd's task API v2 and v3 are the
 * same messages under two package names; containerd 1.6 and 2.x over ttrpc call v2, 1.7 over gRPC calls v3,
 * 2.x over gRPC picks by the version it was told. Hand-written beside the generated descriptors because every
 * server of the Task service (containerd's daemon, `nodewasi shim serve`, the tests') registers under both.
 */
export const TASK_NAMES: readonly string[] = ["containerd.task.v2.Task", "containerd.task.v3.Task"];
