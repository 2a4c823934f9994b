/**
 * An event publisher for a daemon nobody subscribes to: `nodewasi --debug shim serve` logs each task event,
 * which is how the Task API tests read them (test/harness/shim.ts).
 */
import type { Logger } from "../internal/index.js";
import type { EventPublisher } from "./events.js";

/** Logs each task event at debug level: `event /tasks/exit {"containerId":"..."}`. */
export function loggingPublisher(logger: Logger): EventPublisher {
  return {
    publish({ topic, event }) {
      const e = event as {
        containerId?: string;
        id?: string;
        execId?: string;
        exitStatus?: number;
        pid?: number;
      };
      // Exec events name the exec in execId (added, started) or in id (exit, delete: id = exec id).
      const execId = e.execId || (e.id && e.id !== e.containerId ? e.id : undefined);
      logger.debug(`event ${topic}`, {
        containerId: e.containerId,
        ...(execId ? { execId } : {}),
        ...(e.pid ? { pid: e.pid } : {}),
        ...(topic === "/tasks/exit" ? { exitStatus: e.exitStatus } : {}),
      });
    },
  };
}
