/**
 * undici's `Agent`, loaded from the two files the registry client uses instead of undici's index. The index
 * also loads fetch, WebSocket, the cache, the mocks and every other dispatcher: about 100 ms on an idle
 * machine against 25-45 ms for these two, and every `nodewasi pull` or `push` of a registry image pays it.
 * undici's package has no `exports` map, so its files are public paths; should a release move them, the
 * index is loaded instead and only that time is lost.
 */
import type { Agent } from "undici";

/** Where the two files live in undici 7. */
export const UNDICI_FILES = {
  agent: "undici/lib/dispatcher/agent.js",
  request: "undici/lib/api/api-request.js",
} as const;

type AgentClass = new (opts?: Agent.Options) => Agent;

/**
 * The Agent class with `request` (which undici's index adds to every dispatcher's prototype, and the agent
 * file alone does not have). `files` is for the test of the fallback.
 */
export async function loadAgentClass(
  files: { agent: string; request: string } = UNDICI_FILES,
): Promise<AgentClass> {
  try {
    // A string variable: undici ships no types for its files, and the types of the index describe the same class.
    const [agentModule, requestModule] = await Promise.all([import(files.agent), import(files.request)]);
    const Base = agentModule.default as unknown;
    const request = requestModule.default as unknown;
    if (typeof Base !== "function" || typeof request !== "function") throw new Error("not undici 7's layout");
    const base = Base as AgentClass;
    return class RegistryAgent extends base {
      override request(...args: Parameters<Agent["request"]>) {
        return (request as Agent["request"]).apply(this, args);
      }
    } as AgentClass;
  } catch {
    return (await import("undici")).Agent;
  }
}
