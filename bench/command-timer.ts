/**
 * The helper process of `CommandTimer` (measure.ts): reads one JSON array `[cmd, ...args]` per line on stdin,
 * runs it with `timeCommand` and answers each with one JSON line, `{ "ms": N }` or `{ "error": "..." }`.
 * It exits when stdin ends.
 */
import { createInterface } from "node:readline";
import { timeCommand } from "./measure.js";

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, ...args] = JSON.parse(line) as string[];
  try {
    process.stdout.write(`${JSON.stringify({ ms: await timeCommand(cmd!, args) })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`);
  }
}
