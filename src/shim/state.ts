/**
 * The lifecycle of a task's process, as one explicit state machine (runwasi's `state.rs`): a transition not
 * in the table is a `FailedPrecondition` naming both states, so every RPC that changes state checks it the
 * same way and says the same thing.
 */

import { Status } from "../gen/index.js";
import { failedPrecondition } from "../internal/index.js";

export type ProcessState = "created" | "running" | "paused" | "stopped" | "deleted";

const NEXT: Record<ProcessState, readonly ProcessState[]> = {
  created: ["running", "stopped", "deleted"],
  running: ["paused", "stopped"],
  paused: ["running", "stopped"],
  stopped: ["deleted"],
  deleted: [],
};

/** Throws `FailedPrecondition("invalid state transition: A => B")` unless `from -> to` is allowed. */
export function checkTransition(from: ProcessState, to: ProcessState, what: string): void {
  if (!NEXT[from].includes(to)) {
    throw failedPrecondition(`${what}: invalid state transition: ${from} => ${to}`, {
      details: { from, to },
    });
  }
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
