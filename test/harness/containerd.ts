/**
 * A private containerd for integration tests: its own root, state, sockets and config in a fresh temp dir,
 * never the system's. The CRI plugin (unless asked for: `cri`) and the snapshotters that need special
 * filesystems are disabled; native and overlayfs stay. The repository's bin/ is first on containerd's PATH, so
 * runtime type `io.containerd.nodewasi.v1` resolves to bin/containerd-shim-nodewasi-v1 (containerd's
 * `BinaryName` + `exec.LookPath`). The shim's sockets go to `<dir>/s` (NODEWASI_SHIM_SOCKET_DIR) and
 * nodewasi's root to `<dir>/nodewasi`. `stop()` stops containerd, kills any shim daemon left in the dir,
 * unmounts what is mounted under it and removes it.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const SHIM_RUNTIME = "io.containerd.nodewasi.v1";

/** `ctr run`'s arguments before the container id that run image `ref` under nodewasi's runtime, as `platform`. */
export function nodewasiImage(ref: string, platform = "wasip1/wasm"): string[] {
  return ["--runtime", SHIM_RUNTIME, "--platform", platform, ref];
}

export interface CtrResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface PrivateContainerd {
  dir: string;
  /** containerd's gRPC socket (`ctr --address`). */
  address: string;
  namespace: string;
  /** Runs `ctr --address A -n NS args` with stdin /dev/null; kills it after `timeoutMs`. */
  ctr(args: string[], timeoutMs?: number): Promise<CtrResult>;
  /** containerd's log so far (the shims' log FIFOs are copied into it). */
  log(): string;
  /** A failed assertion's message: the command's exit code and output, and the tail of containerd's log. */
  explain(r: { code?: number | null; stdout: string; stderr?: string }): string;
  /** Live shim processes (pids) started by this containerd. */
  shims(): number[];
  /** Mount points under this dir. */
  mounts(): string[];
  /** Stops containerd, leaving its shims running, and starts it again on the same dirs. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Why a private containerd cannot run here, or undefined. */
export function containerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: containerd and its shims need root";
  for (const bin of ["containerd", "ctr"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    } catch {
      return `${bin} is not on PATH (Debian package containerd)`;
    }
  }
  // The overlayfs snapshotter (ctr's default) needs overlay mounts; some container sandboxes forbid them.
  const probe = mkdtempSync("/tmp/nwctd-probe-");
  try {
    execFileSync("mkdir", ["-p", `${probe}/l`, `${probe}/u`, `${probe}/w`, `${probe}/m`]);
    execFileSync(
      "mount",
      [
        "-t",
        "overlay",
        "overlay",
        "-o",
        `lowerdir=${probe}/l,upperdir=${probe}/u,workdir=${probe}/w`,
        `${probe}/m`,
      ],
      { stdio: "ignore" },
    );
    execFileSync("umount", [`${probe}/m`]);
  } catch (err) {
    return `overlay mounts fail here (${(err as Error).message.split("\n")[0]}); the overlayfs snapshotter needs them`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  return undefined;
}

/**
 * What the shims of a test's containerd get unless `shimEnv` says otherwise: a namespace's shared daemon
 * exits 2 s after it holds no task (30 s by default), so a test can see it go.
 */
export const TEST_SHIM_ENV: Readonly<Record<string, string>> = { NODEWASI_SHIM_IDLE_TIMEOUT: "2s" };

export interface ContainerdOptions {
  /** Environment for the shims, over `TEST_SHIM_ENV` (an empty value restores the shim's default). */
  shimEnv?: Record<string, string>;
  /**
   * Serve the CRI plugin (the kubelet's API, on containerd's own socket) with this pause image and the runtime
   * handler `nodewasi` exactly as examples/containerd/config-1.6-1.7.toml configures it. No CNI is installed
   * (an empty conf dir under the temp dir): pods must use the host network.
   */
  cri?: { sandboxImage: string };
}

/** The CRI plugin's configuration for `startContainerd`'s `cri` option. */
function criConfig(dir: string, sandboxImage: string): string[] {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  // The example's runtime table, as an operator merges it (without its `version` line and comments).
  const example = readFileSync(join(REPO_DIR, "examples/containerd/config-1.6-1.7.toml"), "utf8")
    .split("\n")
    .filter((l) => l.trim() && !l.trim().startsWith("#") && !l.startsWith("version"));
  return [
    `[${cri}]`,
    `  sandbox_image = "${sandboxImage}"`,
    // A free port on loopback for exec/attach streaming, never a fixed one.
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    // No profile loading on the test host: apparmor_parser is not part of the test tools.
    "  disable_apparmor = true",
    `[${cri}.cni]`,
    `  bin_dir = "${dir}/cni/bin"`,
    `  conf_dir = "${dir}/cni/net.d"`,
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    // A runtimes table replaces the default one: keep runc, the default handler, as a node's config does.
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    ...example,
  ];
}

/** Starts containerd in a fresh temp dir; throws with its log when it does not answer within 15 s. */
export async function startContainerd(
  namespace = "test",
  options: ContainerdOptions = {},
): Promise<PrivateContainerd> {
  // Short: unix socket paths must fit in 108 bytes.
  const dir = mkdtempSync("/tmp/nwctd-");
  const address = join(dir, "c.sock");
  writeFileSync(
    join(dir, "config.toml"),
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      "disabled_plugins = [",
      ...(options.cri ? [] : ['  "io.containerd.grpc.v1.cri",']),
      '  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
      '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",',
      '  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp",',
      "]",
      "[grpc]",
      `  address = "${address}"`,
      "[ttrpc]",
      `  address = "${address}.ttrpc"`,
      "[debug]",
      '  address = ""',
      '  level = "debug"',
      "[metrics]",
      '  address = ""',
      ...(options.cri ? criConfig(dir, options.cri.sandboxImage) : []),
      "",
    ].join("\n"),
  );
  const logPath = join(dir, "containerd.log");
  const logFd = openSync(logPath, "a");
  const launch = () => {
    const p = spawn("containerd", ["--config", join(dir, "config.toml")], {
      cwd: dir,
      stdio: ["ignore", logFd, logFd],
      env: {
        ...process.env,
        PATH: `${join(REPO_DIR, "bin")}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}`,
        NODEWASI_SHIM_SOCKET_DIR: join(dir, "s"),
        NODEWASI_ROOT: join(dir, "nodewasi"),
        ...TEST_SHIM_ENV,
        ...options.shimEnv,
      },
    });
    return { p, exited: new Promise<void>((r) => p.once("exit", () => r())) };
  };
  let containerd = launch();
  const log = () => readFileSync(logPath, "utf8");

  const ctr = (args: string[], timeoutMs = 60_000): Promise<CtrResult> =>
    new Promise((resolveRun) => {
      const p = spawn("ctr", ["--address", address, "-n", namespace, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      p.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => {
        stderr += `\n(killed after ${timeoutMs} ms)`;
        p.kill("SIGKILL");
      }, timeoutMs);
      p.once("close", (code) => {
        clearTimeout(timer);
        resolveRun({ code, stdout, stderr });
      });
    });

  const shims = () => {
    const out: number[] = [];
    for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
      try {
        // process.title rewrites the cmdline; the environment containerd passed down names this dir.
        const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
        const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
        if (
          cmd.includes("containerd-shim-nodewasi-v1") &&
          state !== "Z" &&
          env.includes(`NODEWASI_SHIM_SOCKET_DIR=${dir}/s`)
        ) {
          out.push(Number(pid));
        }
      } catch {}
    }
    return out;
  };
  const mounts = () =>
    readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4] ?? "")
      .filter((p) => p.startsWith(`${dir}/`));

  const stopContainerd = async () => {
    const { p, exited } = containerd;
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  };
  const waitReady = async () => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const v = await ctr(["version"], 5000);
      if (v.code === 0) return;
      if (Date.now() > deadline || containerd.p.exitCode !== null) {
        throw new Error(`containerd did not start: ${v.stderr}\n${log().slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** Stops containerd (its shims keep running, as under systemd's KillMode=process) and starts it again. */
  const restart = async () => {
    await stopContainerd();
    containerd = launch();
    await waitReady();
  };

  const stop = async () => {
    await stopContainerd();
    for (const pid of shims()) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
    for (const m of mounts().sort((a, b) => b.length - a.length)) {
      try {
        execFileSync("umount", ["-l", m], { stdio: "ignore" });
      } catch {}
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitReady();
  } catch (err) {
    await stop();
    throw err;
  }
  const explain = (r: { code?: number | null; stdout: string; stderr?: string }) =>
    `${r.code !== undefined ? `code: ${r.code}\n` : ""}stdout: ${r.stdout}\nstderr: ${r.stderr ?? ""}\n` +
    `containerd log tail:\n${log().slice(-3000)}`;
  return { dir, address, namespace, ctr, log, explain, shims, mounts, restart, stop };
}

/** The live descendants of `pid`. */
export function processDescendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const p of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      parents.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {}
  }
  const out: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}
