/**
 * A task event publisher that keeps every event in memory, for the Task service's unit tests (src/shim/*.test.ts).
 */
import type { EventPublisher, TaskEvent, TopicName } from "../../src/shim/index.js";

/** Keeps every event in memory, and lets tests wait for one. */
export class RecordingPublisher implements EventPublisher {
  readonly events: TaskEvent[] = [];
  #waiters: { match: (e: TaskEvent) => boolean; resolve: (e: TaskEvent) => void }[] = [];

  publish(e: TaskEvent): void {
    this.events.push(e);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(e)) return true;
      w.resolve(e);
      return false;
    });
  }

  /** Resolves with the first event (already seen or future) that `match` accepts. */
  next(match: (e: TaskEvent) => boolean): Promise<TaskEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  topics(): TopicName[] {
    return this.events.map((e) => e.topic);
  }
}
