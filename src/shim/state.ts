/**
 * The lifecycle of a task's process, as one explicit state machine (runwasi's `task_state.rs`, runc's shim
 * `pkg/process/*_state.go`): each transition names the states it may leave and the one it enters, and any
 * other is a `FailedPrecondition` naming both states, so every RPC that changes state checks it the same way
 * and says the same thing. TaskProcess holds the state privately and moves it only through this table.
 */

import { Status } from "../gen/index.js";
import { failedPrecondition } from "../internal/index.js";

export type ProcessState = "created" | "running" | "paused" | "stopped" | "deleted";

/** What happens to a process: Start, Pause, Resume, its exit (or a Kill before it started), Delete. */
export type Transition = "start" | "pause" | "resume" | "stop" | "delete";

const TABLE: Record<Transition, { from: readonly ProcessState[]; to: ProcessState }> = {
  start: { from: ["created"], to: "running" },
  pause: { from: ["running"], to: "paused" },
  // Not from created: runc's shim refuses to resume a process that never started.
  resume: { from: ["paused"], to: "running" },
  // A created process stops when it is killed before its guest ran; a paused one when killed.
  stop: { from: ["created", "running", "paused"], to: "stopped" },
  delete: { from: ["created", "stopped"], to: "deleted" },
};

/** Whether `transition` may leave `state`. */
export function allows(state: ProcessState, transition: Transition): boolean {
  return TABLE[transition].from.includes(state);
}

/**
 * The state `transition` leads to from `state`; throws `FailedPrecondition("<what>: invalid state transition:
 * A => B")` (details `{from, to}`) when the table does not allow it.
 */
export function transition(state: ProcessState, t: Transition, what: string): ProcessState {
  const { to } = TABLE[t];
  if (!allows(state, t)) {
    throw failedPrecondition(`${what}: invalid state transition: ${state} => ${to}`, {
      details: { from: state, to },
    });
  }
  return to;
}

/** The containerd status a state is reported as. */
export function toStatus(state: ProcessState): Status {
  switch (state) {
    case "created":
      return Status.CREATED;
    case "running":
      return Status.RUNNING;
    case "paused":
      return Status.PAUSED;
    case "stopped":
    case "deleted":
      return Status.STOPPED;
  }
}
