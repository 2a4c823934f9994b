/**
 * Where a daemon keeps the tasks it creates without a bundle (`nodewasi run`): `<stateDir>/tasks/<id>`, one
 * folder per task, named by its id (checked as containerd's identifiers are, so it is one path component).
 * Only the root's owner writes here (root-claim.ts), so what it finds when it takes the root was left by a
 * daemon that died (SIGKILL, a crash, a power cut) and is removed.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/** The folder holding the tasks' own bundles. */
export function tasksDir(stateDir: string): string {
  return join(stateDir, "tasks");
}

/** The bundle of task `id` created without one (`id` is a valid identifier). */
export function taskDir(stateDir: string, id: string): string {
  return join(tasksDir(stateDir), id);
}

/**
 * Removes every task folder under `stateDir`; call it only while owning the root and before creating any
 * task. A folder that cannot be removed (a mount still on it) is reported to `onError` and left; the others
 * go. Resolves with the names removed.
 */
export async function removeLeftoverTasks(
  stateDir: string,
  onError: (path: string, err: unknown) => void,
): Promise<string[]> {
  const names = await readdir(tasksDir(stateDir)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const removed: string[] = [];
  for (const name of names) {
    const path = join(tasksDir(stateDir), name);
    await rm(path, { recursive: true, force: true }).then(
      () => removed.push(name),
      (err: unknown) => onError(path, err),
    );
  }
  return removed;
}
