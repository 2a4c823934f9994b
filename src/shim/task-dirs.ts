/**
 * Where a daemon keeps the tasks it creates without a bundle (`nodewasi run`): `<stateDir>/tasks/<id>`, one
 * folder per task, named by its id (checked as containerd's identifiers are, so it is one path component).
 */
import { join } from "node:path";

/** The folder holding the tasks' own bundles. */
export function tasksDir(stateDir: string): string {
  return join(stateDir, "tasks");
}

/** The bundle of task `id` created without one (`id` is a valid identifier). */
export function taskDir(stateDir: string, id: string): string {
  return join(tasksDir(stateDir), id);
}
