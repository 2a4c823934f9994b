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
 *
 * No `--new-session`: the runner stays in bwrap's process group, which ChildRunner made a session of its own
 * (spawned detached, so without a controlling terminal: what `--new-session` guards against cannot happen),
 * and one `kill(-pgid)` ends bwrap and its child at any stage. Killing bwrap alone is not enough: its child
 * arms `--die-with-parent` only just before it execs the runner (bubblewrap.c, `handle_die_with_parent`), and
 * before that waits on an eventfd that bwrap writes once its setup is done, so a bwrap killed early left a
 * child blocked forever holding the runner's IPC and stderr sockets (seen whenever a booting warm runner was
 * closed).
 *
 * Warm sandboxes (ChildRunner, warm-slots.ts) are started with the same arguments and one more bind: their own
 * empty slot directory, into which the shim later binds the spec's paths.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { executableOnPath } from "../internal/index.js";

/**
 * Full path of a usable `bwrap`, or undefined when it is missing or cannot create namespaces here. Probed once
 * per process (one `bwrap ... true`, a few ms).
 */
export function findBwrap(): string | undefined {
  if (found === null) found = probeBwrap();
  return found;
}

/**
 * findBwrap's probe without blocking the event loop: a process can start it before loading the rest of its
 * modules (the shim daemon does), so that the probe runs meanwhile, and findBwrap then answers from it.
 */
export function findBwrapAsync(): Promise<string | undefined> {
  if (found !== null) return Promise.resolve(found);
  probing ??= new Promise<string | undefined>((resolve) => {
    const candidate = bwrapOnPath();
    if (!candidate) return resolve(undefined);
    execFile(candidate, PROBE_ARGS, { timeout: 5000 }, (err) => resolve(err ? undefined : candidate));
  }).then((result) => {
    if (found === null) found = result;
    return found;
  });
  return probing;
}

let found: string | undefined | null = null;
let probing: Promise<string | undefined> | undefined;

/** Installed is not enough: unprivileged user namespaces may be disabled (sysctl, containers). */
const PROBE_ARGS = ["--unshare-user-try", "--ro-bind", "/", "/", "true"];

/** The first `bwrap` on PATH (only that one is probed). */
function bwrapOnPath(): string | undefined {
  return executableOnPath("bwrap");
}

function probeBwrap(): string | undefined {
  const candidate = bwrapOnPath();
  if (!candidate) return undefined;
  return spawnSync(candidate, PROBE_ARGS, { timeout: 5000 }).status === 0 ? candidate : undefined;
}

/** What the sandbox must show besides Node itself: read-only and read-write host paths (files or dirs). */
export interface SandboxPaths {
  readOnly: string[];
  readWrite: string[];
}

/**
 * nodewasi's package root (holding package.json, which makes dist/*.js ES modules) and its compiled src/
 * (dist/src, or dist/bundle when this runs from the bundle: scripts/bundle.mjs).
 */
const here = dirname(fileURLToPath(import.meta.url));
const distSrc = resolve(here, "..");
const packageJson = resolve(here, "../../../package.json");

/** bwrap's arguments before `--`, for a runner that may see `paths`. */
export function bwrapArgs(paths: SandboxPaths): string[] {
  const args = [
    "--die-with-parent",
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
  const binds = new Map<string, "--ro-bind" | "--bind">();
  for (const p of [node, process.execPath, distSrc, packageJson, ...paths.readOnly])
    binds.set(p, "--ro-bind");
  for (const p of paths.readWrite) binds.set(p, "--bind");
  // Shallowest first: a later bind hides whatever was mounted under its path before, so a read-only dir inside
  // a read-write one (or the reverse) must come after it to stay what it was asked to be.
  const depth = (p: string) => p.split("/").filter(Boolean).length;
  for (const [p, how] of [...binds].sort(([a], [b]) => depth(a) - depth(b))) args.push(how, p, p);
  return args;
}
