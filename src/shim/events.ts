/**
 * How the Task service announces what happened (DESIGN decision 15): it is handed a publisher and knows
 * nothing of where events go (containerd over ttrpc, the CLI, a test's list). Topics are containerd's.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";

export const Topic = {
  create: "/tasks/create",
  start: "/tasks/start",
  exit: "/tasks/exit",
  delete: "/tasks/delete",
  execAdded: "/tasks/exec-added",
  execStarted: "/tasks/exec-started",
  paused: "/tasks/paused",
  resumed: "/tasks/resumed",
  oom: "/tasks/oom",
} as const;

export type TopicName = (typeof Topic)[keyof typeof Topic];

export interface PublishedEvent<D extends DescMessage = DescMessage> {
  topic: TopicName;
  schema: D;
  event: MessageShape<D>;
}

/** Receives events in the order they happened; must not throw (a transport queues and retries). */
export interface EventPublisher {
  publish<D extends DescMessage>(topic: TopicName, schema: D, event: MessageShape<D>): void;
}

/** Keeps every event in memory, and lets tests wait for one: the publisher of tests and of `nodewasi run`. */
export class RecordingPublisher implements EventPublisher {
  readonly events: PublishedEvent[] = [];
  #waiters: { match: (e: PublishedEvent) => boolean; resolve: (e: PublishedEvent) => void }[] = [];

  publish<D extends DescMessage>(topic: TopicName, schema: D, event: MessageShape<D>): void {
    const e = { topic, schema, event } as unknown as PublishedEvent;
    this.events.push(e);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(e)) return true;
      w.resolve(e);
      return false;
    });
  }

  /** Resolves with the first event (already seen or future) that `match` accepts. */
  next(match: (e: PublishedEvent) => boolean): Promise<PublishedEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  topics(): TopicName[] {
    return this.events.map((e) => e.topic);
  }
}

/** Drops everything: for a shim nobody listens to. */
export const nullPublisher: EventPublisher = { publish: () => {} };
