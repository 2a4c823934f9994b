/**
 * How the Task service announces what happened (DESIGN decision 15): it is handed a publisher and knows
 * nothing of where events go (containerd over ttrpc, the CLI's log, a test's list). Each event's topic follows
 * from its message, by the one table below (containerd's `runtime/events.go`).
 */
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as gen from "../gen/index.js";

/** Every task event the shim publishes, and containerd's topic for it. */
const TOPICS = [
  [gen.TaskCreateSchema, "/tasks/create"],
  [gen.TaskStartSchema, "/tasks/start"],
  [gen.TaskOOMSchema, "/tasks/oom"],
  [gen.TaskExitSchema, "/tasks/exit"],
  [gen.TaskDeleteSchema, "/tasks/delete"],
  [gen.TaskExecAddedSchema, "/tasks/exec-added"],
  [gen.TaskExecStartedSchema, "/tasks/exec-started"],
  [gen.TaskPausedSchema, "/tasks/paused"],
  [gen.TaskResumedSchema, "/tasks/resumed"],
] as const;

/** The schema of an event the shim publishes. */
export type TaskEventSchema = (typeof TOPICS)[number][0];
/** containerd's topic of an event the shim publishes. */
export type TopicName = (typeof TOPICS)[number][1];

const TOPIC_OF: ReadonlyMap<DescMessage, TopicName> = new Map<DescMessage, TopicName>(TOPICS);

/** One event as a publisher receives it: the message, its schema (to encode it) and its topic. */
export interface TaskEvent<D extends TaskEventSchema = TaskEventSchema> {
  topic: TopicName;
  schema: D;
  event: MessageShape<D>;
}

/** The event of `schema` with the fields of `init`, under the topic the table gives it. */
export function taskEvent<D extends TaskEventSchema>(schema: D, init: MessageInitShape<D>): TaskEvent<D> {
  return { topic: TOPIC_OF.get(schema)!, schema, event: create(schema, init) };
}

/** Receives events in the order they happened; must not throw (a transport queues and retries). */
export interface EventPublisher {
  publish(e: TaskEvent): void;
}

/** Drops everything: for a shim nobody listens to. */
export const nullPublisher: EventPublisher = { publish: () => {} };
