/**
 * Isolation of runner processes with bubblewrap (DESIGN decision 8). node:wasi's preopens can be escaped
 * through a directory symlink inside them (reference node-wasi.md §1.6, observed: `dirlink -> /etc` let a guest
 * read the host's /etc/hostname), so a runner is started in a mount namespace that holds only what Node needs
 * (read-only: /usr, /lib*, /etc/ld.so.*, the Node binary, nodewasi's compiled code and package.json) and what
 * the spec names: each preopen, bound at its SAME host path because node:wasi is given host paths, the module,
 * and the stdio paths. A symlink to /etc inside the rootfs then resolves to a directory that is not there.
 *
 * The pid namespace is NOT unshared: bwrap does not forward signals to its child, so the shim signals the
 * runner itself, which must then have a host pid (it reports `process.pid` when ready) for kill, SIGSTOP and
 * /proc stats. `--die-with-parent` ends the sandbox with the shim. The IPC channel is an inherited socket fd,
 * which `--unshare-net` does not affect.
 */
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, realpathSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Full path of a usable `bwrap`, or undefined when it is missing or cannot create namespaces here. Probed once
 * per process (one `bwrap ... true`, a few ms).
 */
export function findBwrap(): string | undefined {
  if (found === null) found = probeBwrap();
  return found;
}

let found: string | undefined | null = null;

function probeBwrap(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir || ".", "bwrap");
    if (!existsSync(candidate)) continue;
    // Installed is not enough: unprivileged user namespaces may be disabled (sysctl, containers).
    const probe = spawnSync(candidate, ["--unshare-user-try", "--ro-bind", "/", "/", "true"], {
      timeout: 5000,
    });
    return probe.status === 0 ? candidate : undefined;
  }
  return undefined;
}

/** What the sandbox must show besides Node itself: read-only and read-write host paths (files or dirs). */
export interface SandboxPaths {
  readOnly: string[];
  readWrite: string[];
}

/** nodewasi's package root (holding package.json, which makes dist/*.js ES modules) and its compiled src/. */
const here = dirname(fileURLToPath(import.meta.url));
const distSrc = resolve(here, "..");
const packageJson = resolve(here, "../../../package.json");

/** bwrap's arguments before `--`, for a runner that may see `paths`. */
export function bwrapArgs(paths: SandboxPaths): string[] {
  const args = [
    "--die-with-parent",
    "--new-session",
    "--unshare-user-try",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-net",
    "--unshare-cgroup-try",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
  ];
  for (const top of ["/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin"]) {
    if (!existsSync(top)) continue;
    if (lstatSync(top).isSymbolicLink())
      args.push("--symlink", readlinkSync(top), top); // merged /usr: /lib -> usr/lib
    else args.push("--ro-bind", top, top);
  }
  args.push("--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache");
  args.push("--ro-bind-try", "/etc/ld.so.conf", "/etc/ld.so.conf");
  args.push("--ro-bind-try", "/etc/ld.so.conf.d", "/etc/ld.so.conf.d");
  const node = realpathSync(process.execPath);
  for (const p of new Set([node, process.execPath, distSrc, packageJson, ...paths.readOnly])) {
    args.push("--ro-bind", p, p);
  }
  for (const p of new Set(paths.readWrite)) args.push("--bind", p, p);
  return args;
}
