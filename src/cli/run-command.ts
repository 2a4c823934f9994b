/**
 * `nodewasi run REF [ARGS...]`: the standalone flow of DESIGN "Flows". Starts a shim daemon when none
 * listens, makes sure the image is in its store (progress on stderr), creates the task with
 * `nodewasi.v1.CreateOptions`, streams the guest's stdout and stderr through FIFOs, and exits with the
 * guest's status. SIGINT and SIGTERM are forwarded as Kill (a second SIGINT sends SIGKILL). With `-d` the
 * output goes to `<root>/logs/<id>.log`, capped and rotated as `--log-opt` says (default 20m x 5, Docker's
 * local driver), and the task id is printed.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { Code, invalidArgument, ShimError, validateIdentifier } from "../internal/index.js";
import type { PullPolicy } from "../oci/index.js";
import { type CliState, contextFor } from "./context.js";
import { ioDirFor, socketPath } from "./shim-address.js";

export interface RunFlags {
  rm?: boolean;
  detach?: boolean;
  interactive?: boolean;
  env: string[];
  mount: string[];
  memory?: string;
  platform?: string;
  plainHttp?: boolean;
  pull: PullPolicy;
  name?: string;
  logOpt: string[];
}

/** A detached task's log cap when `--log-opt` sets none: Docker's `local` log driver's (20 MB x 5 files). */
export const DEFAULT_LOG_OPTS: Readonly<Record<string, string>> = { "max-size": "20m", "max-file": "5" };

const collect = (value: string, previous: string[]) => [...previous, value];

/** Where a detached task's stdout and stderr go. */
export function logPathFor(root: string, id: string): string {
  return join(root, "logs", `${id}.log`);
}

/** Registers `run` on `parent`. */
export function runCommand(parent: Command, state: CliState): Command {
  return parent
    .command("run")
    .description("run a wasm image as a task of the nodewasi shim, and exit with the guest's status")
    .argument("<ref>", "registry reference, oci:DIR[:TAG] or oci-archive:FILE[:TAG]")
    .argument(
      "[args...]",
      "arguments for the guest (replace the image's own); everything after REF is the guest's",
    )
    .option("--rm", "the shim deletes the task once it has exited (also when this command was killed)")
    .option("-d, --detach", "run in the background: output to <root>/logs/ID.log, print the task id")
    .option("-i, --interactive", "connect this process's stdin to the guest's")
    .option(
      "-e, --env <KEY=VALUE>",
      "set an environment variable (repeatable; KEY alone copies ours)",
      collect,
      [],
    )
    .option("--mount <HOST:GUEST>", "make a host directory visible to the guest (repeatable)", collect, [])
    .option("--memory <size>", "cap the guest's linear memory: bytes, or with k, m, g (64m, 1g)")
    .option("--platform <os/arch>", "choose this platform from an index instead of the wasm preference order")
    .option("--plain-http", "talk plain HTTP to the registry (loopback registries always may)")
    .addOption(
      new Option("--pull <policy>", "pull the image: always, missing (when not stored), never")
        .choices(["always", "missing", "never"] satisfies PullPolicy[])
        .default("missing"),
    )
    .option(
      "--name <id>",
      "the task id: letters and digits, with single . _ or - between them, 76 at most (default: 12 random hex digits)",
    )
    .option(
      "--log-opt <KEY=VALUE>",
      "with -d: cap the log, as Docker's: max-size=SIZE (default 20m, -1 for none), max-file=N (default 5)",
      collect,
      [],
    )
    .addHelpText(
      "after",
      `
A shim daemon serves the task: the one listening on --address, else one started now, which logs to shim.log
beside its socket and exits after 30 s idle ($NODEWASI_IDLE_TIMEOUT seconds when set). A detached task's output
goes to <root>/logs/ID.log; once it holds max-size bytes it becomes ID.log.1 (ID.log.1 becomes ID.log.2...) and
a new ID.log starts, keeping max-file files: the newest output, at most max-size x max-file bytes (nodewasi logs
reads them all, in order). The exit status is the
guest's: proc_exit(n) gives n & 255, a trap 134, a signal 128+signo (Ctrl-C: 130). Failures before the guest
runs exit with nodewasi's codes (nodewasi --help): 2 for a bad flag, 3 when the image is not found (or not
stored with --pull never), 5 when the registry cannot be reached or stalls (the daemon's pull honours the global
--registry-timeout). Read-only mounts (HOST:GUEST:ro) are refused: node:wasi cannot enforce them. When what
reads the output goes away (| head), the guest's next write fails with EPIPE, and run still exits with the
guest's status (--rm removes the task).

Examples:
  $ nodewasi run oci:examples/images/hello:latest
  $ nodewasi run --rm 127.0.0.1:5000/hello:latest a b -x
  $ nodewasi run --rm -e GREETING=hi --mount ./data:/data REF /data/in.txt
  $ echo hello | nodewasi run --rm -i REF
  $ nodewasi run --memory 64m --pull never REF
  $ nodewasi --registry-timeout 2m run --rm registry.far-away.example/tools/hello:v1
  $ ID=$(nodewasi run -d REF) && nodewasi logs -f "$ID" && nodewasi rm "$ID"
  $ nodewasi run -d --name job1 --log-opt max-size=10m --log-opt max-file=3 REF`,
    )
    .action(async (ref: string, args: string[], flags: RunFlags, cmd: Command) => {
      const ctx = contextFor(cmd, state);
      if (flags.detach && flags.interactive)
        throw invalidArgument("-d and -i cannot be combined: a detached task has no stdin");
      if (flags.detach && flags.rm) {
        throw invalidArgument(
          "--rm and -d cannot be combined; remove a detached task with `nodewasi rm ID` once it has exited",
        );
      }
      if (flags.logOpt.length && !flags.detach) {
        throw invalidArgument(
          "--log-opt needs -d: only a detached task has a log (else output goes to the terminal)",
        );
      }
      const logOpts = { ...DEFAULT_LOG_OPTS };
      for (const o of flags.logOpt) {
        const eq = o.indexOf("=");
        if (eq <= 0) throw invalidArgument(`--log-opt ${o}: write KEY=VALUE, e.g. --log-opt max-size=10m`);
        logOpts[o.slice(0, eq)] = o.slice(eq + 1);
      }
      const { parseLogOptions } = await import("../wasi/index.js");
      const rotation = parseLogOptions(Object.entries(logOpts), "--log-opt");
      const id = flags.name ?? randomBytes(6).toString("hex");
      // The shim checks it too (containerd's rule); checked here first, before any daemon or pull.
      validateIdentifier(id, "--name");
      const { sourceName } = await import("../oci/index.js");
      const { createOptionsFor } = await import("./run-options.js");
      const image = sourceName(ref);
      const options = createOptionsFor({
        image,
        args,
        env: flags.env,
        mounts: flags.mount,
        ...(flags.memory !== undefined ? { memory: flags.memory } : {}),
        ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
        ...(flags.plainHttp ? { plainHttp: true } : {}),
        ...(flags.rm ? { autoRemove: true } : {}),
      });
      const address = socketPath(cmd.optsWithGlobals<{ address?: string }>().address);
      const { connectShim, explainShimLoss } = await import("./shim-client.js");
      const shim = (await connectShim(ctx, address, { start: true }))!;
      let doing = `the pull of ${ref}`;
      try {
        const pulling = new AbortController();
        const onPullSignal = () => pulling.abort(new ShimError(Code.Canceled, `pull of ${ref}`));
        process.once("SIGINT", onPullSignal);
        try {
          const { ensureImage } = await import("./ensure-image.js");
          await ensureImage(ctx, shim.images, {
            image,
            policy: flags.pull,
            progress: true,
            signal: pulling.signal,
            ...(ctx.registryTimeoutMs !== undefined ? { registryTimeoutMs: ctx.registryTimeoutMs } : {}),
            ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
            ...(flags.plainHttp ? { plainHttp: true } : {}),
          });
        } catch (err) {
          throw pulling.signal.aborted ? pulling.signal.reason : err;
        } finally {
          process.off("SIGINT", onPullSignal);
        }
        doing = `task ${id}`;
        const { attachedRun, runTask } = await import("./run-task.js");
        if (flags.detach) {
          const log = logPathFor(ctx.root, id);
          await mkdir(join(ctx.root, "logs"), { recursive: true, mode: 0o700 });
          // A log left by an earlier task of the same name is not this task's.
          const known = await shim.tasks.list({ id }).then(
            () => true,
            () => false,
          );
          const { removeLog } = await import("../wasi/index.js");
          if (!known) await removeLog(log);
          // The runner caps and rotates the log itself (src/wasi/rotating-log.ts), told by the URI's query.
          const uri = rotation
            ? `file://${log}?max-size=${rotation.maxSize}&max-file=${rotation.maxFiles}`
            : `file://${log}`;
          await runTask(shim.task, { id, options, stdio: { stdin: "", stdout: uri, stderr: uri } });
          ctx.out(`${id}\n`);
          return;
        }
        state.exitCode = await attachedRun(shim.task, {
          id,
          options,
          interactive: flags.interactive === true,
          ioDir: ioDirFor(address),
        });
      } catch (err) {
        throw await explainShimLoss(err, address, doing);
      } finally {
        shim.close();
      }
    });
}
