/**
 * Running a command on a pseudo-terminal, as a user at a terminal would: util-linux `script` gives it a pty
 * as stdin, stdout and stderr, and what the terminal showed comes back as one string.
 */
import { execFile, execFileSync } from "node:child_process";

/** Why commands cannot run on a terminal here, or undefined. */
export function terminalUnavailable(): string | undefined {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "util-linux script is not installed";
  }
}

/** Runs `argv` on a pty with `env` (default: this process's); its exit code and what the terminal showed. */
export function onTerminal(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; screen: string }> {
  const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((done) => {
    execFile("script", ["-qec", quoted, "/dev/null"], { env, timeout: 60_000 }, (err, stdout) =>
      done({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, screen: stdout }),
    );
  });
}
