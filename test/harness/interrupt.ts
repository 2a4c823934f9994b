/**
 * Ctrl-C in the middle of a CLI transfer: runs the command, waits until its stderr shows `when` (progress of
 * the transfer), lets it run `settleMs` more, sends SIGINT, and reports how it ended. A command that never
 * shows `when` is killed after 20 s; one that ends before is reported as it ended.
 */
import { spawn } from "node:child_process";

export interface Interrupted {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from SIGINT to the exit. */
  stoppedMs: number;
}

export async function interruptAt(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  when: RegExp,
  settleMs = 0,
): Promise<Interrupted> {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  const seen = new Promise<void>((ok) =>
    child.stderr.on("data", (d) => {
      stderr += d;
      if (when.test(stderr)) ok();
    }),
  );
  const exited = new Promise<number | null>((ok) => child.on("exit", (code) => ok(code)));
  const timeout = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await Promise.race([seen, exited]);
  if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
  const sentAt = Date.now();
  child.kill("SIGINT");
  const code = await exited;
  clearTimeout(timeout);
  return { code, stdout, stderr, stoppedMs: Date.now() - sentAt };
}
