/**
 * A temporary Docker `config.json` for credentials, pointed at by `DOCKER_CONFIG` while a test runs, as the
 * docker CLI, containerd's ctr and every registry client read it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Writes `{"auths": {host: {"auth": base64(user:password)}}}` into a fresh dir, sets `DOCKER_CONFIG` to it,
 * and returns a function that restores the previous value and removes the dir.
 */
export async function useDockerConfig(
  auths: Record<string, { user: string; password: string }>,
): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "nodewasi-docker-config-"));
  const body = {
    auths: Object.fromEntries(
      Object.entries(auths).map(([host, c]) => [
        host,
        { auth: Buffer.from(`${c.user}:${c.password}`).toString("base64") },
      ]),
    ),
  };
  await writeFile(join(dir, "config.json"), JSON.stringify(body, null, 2), { mode: 0o600 });
  const previous = process.env.DOCKER_CONFIG;
  process.env.DOCKER_CONFIG = dir;
  return async () => {
    if (previous === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = previous;
    await rm(dir, { recursive: true, force: true });
  };
}
