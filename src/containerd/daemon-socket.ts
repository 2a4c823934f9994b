/**
 * How `start` finds a live shared daemon (one per namespace or pod: socket-address.ts), and how the daemon
 * stops being found before it exits by itself. The files beside the socket, in its 0700 folder:
 *
 * - `<socket>`: a hard link to the name the daemon bound, `<socket>.<pid>`. libuv unlinks a server's bound
 *   name when it closes, which must never be `<socket>`: by then it may be a later daemon's. A daemon killed
 *   leaves its bound name; the next daemon on `<socket>` removes those of dead pids.
 * - `<socket>.pid`: `PID START BOOT INODE`, the daemon (start time in clock ticks, /proc/PID/stat field 22, and
 *   the boot id: a reused pid has another start) and its socket's inode. With it, the shell front of
 *   bin/containerd-shim-nodewasi-v1 answers `start` without booting Node when that process runs and `<socket>`
 *   is that inode; in any doubt it leaves `start` to Node (shim-start.ts).
 * - `<socket>.bootstrap`: the daemon's start reply (bootstrap.ts).
 * - `<socket>.claim`: made by every `start` about to answer with this address, BEFORE it looks for the socket.
 *
 * The idle handoff, in Dekker's order: a `start` makes the claim, then looks for the socket; a daemon going idle
 * removes its records and its name, then takes the claim (unlinks it). Either the start finds no socket (and
 * launches a new daemon) or the daemon finds the claim (puts its name back and serves another idle period):
 * never an address answered that nobody will serve. containerd retries a dial that finds no socket (ENOENT)
 * every 10 ms until its timeout (`pkg/dialer` in 1.6), so the instant without a name costs a dialling
 * containerd nothing. Records go before the name, so that a later daemon's records (written once it has the
 * name) are never removed by an earlier one.
 */
import { link, lstat, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  Code,
  isListening,
  isProcessAlive,
  isSameProcess,
  ShimError,
  selfIdentity,
} from "../internal/index.js";
import type { SharedDiscovery } from "../shim/index.js";
import { type BootstrapMode, forgetBootstrap, recordBootstrap } from "./bootstrap.js";

/** Where the daemon on `socket` records who it is. */
export function daemonRecord(socket: string): string {
  return `${socket}.pid`;
}

/** The claim a `start` makes before it looks for the daemon on `socket`. */
export function daemonClaim(socket: string): string {
  return `${socket}.claim`;
}

/** The name the daemon for `socket` binds (its own, so libuv's unlink at close touches nothing shared). */
export function boundName(socket: string, pid = process.pid): string {
  return `${socket}.${pid}`;
}

/** Claims the daemon on `socket` for a `start` (see the file's header); best effort. */
export async function claimDaemon(socket: string): Promise<void> {
  await writeFile(daemonClaim(socket), "").catch(() => {});
}

/**
 * The pid of the live daemon recorded for `socket`, or undefined: the record's process runs (same start time
 * and boot) and `<socket>` is the socket it recorded.
 */
export async function recordedDaemon(socket: string): Promise<number | undefined> {
  const text = await readFile(daemonRecord(socket), "utf8").catch(() => "");
  const [pid, start, boot, ino] = text.trim().split(" ");
  if (!pid || !start || !boot || !ino || !/^\d+$/.test(pid) || !/^\d+$/.test(start)) return undefined;
  if (!isSameProcess({ pid: Number(pid), start: Number(start), boot })) return undefined;
  const st = await lstat(socket, { bigint: true }).catch(() => undefined);
  return st?.isSocket() && String(st.ino) === ino ? Number(pid) : undefined;
}

/** A daemon's public name on `socket`, published and withdrawn by the handoff above. */
export class DaemonSocket implements SharedDiscovery {
  readonly #socket: string;
  readonly #bound: string;
  readonly #mode: BootstrapMode;
  #ino: bigint | undefined;
  #published = false;

  /** `bound` is where the daemon listens; `mode` the transport its bootstrap record names. */
  constructor(socket: string, bound: string, mode: BootstrapMode) {
    this.#socket = socket;
    this.#bound = bound;
    this.#mode = mode;
  }

  /**
   * Links the bound socket to its public name and records the daemon. A socket nobody listens on (a daemon
   * that died) is replaced. Throws ShimError AlreadyExists when a live daemon has the name (a racing start's),
   * FailedPrecondition when something that is not a socket is there.
   */
  async publish(): Promise<void> {
    this.#ino = (await lstat(this.#bound, { bigint: true })).ino;
    for (let attempt = 0; ; attempt++) {
      try {
        await link(this.#bound, this.#socket);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) throw err;
      }
      const there = await lstat(this.#socket).catch(() => undefined);
      if (!there) continue;
      if (!there.isSocket()) {
        throw new ShimError(
          Code.FailedPrecondition,
          `${this.#socket} exists and is not a socket; remove it or pick another path`,
        );
      }
      if (await isListening(this.#socket)) {
        throw new ShimError(Code.AlreadyExists, `a server is already listening on ${this.#socket}`);
      }
      await unlink(this.#socket).catch(() => {});
    }
    this.#published = true;
    await this.#record();
    await removeDeadBoundNames(this.#socket);
  }

  async withdraw(): Promise<boolean> {
    if (!this.#published) return true;
    this.#published = false;
    // Someone else's name now (a racing daemon replaced it as stale): nobody finds this daemon through it.
    if (!(await this.#ownsName())) return true;
    await rm(daemonRecord(this.#socket), { force: true });
    await forgetBootstrap(this.#socket);
    await unlink(this.#socket).catch(() => {});
    return !(await unlink(daemonClaim(this.#socket)).then(
      () => true,
      () => false,
    ));
  }

  async restore(): Promise<boolean> {
    if (this.#published) return true;
    try {
      await link(this.#bound, this.#socket);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
    this.#published = true;
    await this.#record();
    return true;
  }

  async #ownsName(): Promise<boolean> {
    const st = await lstat(this.#socket, { bigint: true }).catch(() => undefined);
    return st !== undefined && st.ino === this.#ino;
  }

  /** The bootstrap record, then who this daemon is, each written whole (temp file and rename). */
  async #record(): Promise<void> {
    await recordBootstrap(this.#socket, this.#mode);
    const me = selfIdentity();
    const tmp = `${daemonRecord(this.#socket)}.tmp`;
    await writeFile(tmp, `${me.pid} ${me.start ?? ""} ${me.boot ?? ""} ${this.#ino}\n`, { mode: 0o600 });
    await rename(tmp, daemonRecord(this.#socket));
  }
}

/** Removes the bound names (`<socket>.<pid>`) that daemons killed on `socket` left; best effort. */
async function removeDeadBoundNames(socket: string): Promise<void> {
  const dir = dirname(socket);
  const prefix = `${basename(socket)}.`;
  for (const name of await readdir(dir).catch(() => [])) {
    if (!name.startsWith(prefix)) continue;
    const pid = name.slice(prefix.length);
    if (/^\d+$/.test(pid) && Number(pid) !== process.pid && !isProcessAlive(Number(pid))) {
      await unlink(join(dir, name)).catch(() => {});
    }
  }
}
