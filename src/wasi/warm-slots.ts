/**
 * Slots: how a warm bwrap sandbox, started before its task is known, comes to see that task's files and
 * nothing else (reference bwrap-warm-slots.md). Each warm sandbox binds one empty directory of its own, its
 * slot, at SLOT_IN_SANDBOX. bwrap makes the sandbox's mounts slaves of the host's, and the slots lie in a
 * directory that is a shared mount point (the room), so a mount the shim makes in a slot after the sandbox
 * started appears inside it, in that sandbox only. When a task takes a warm runner, `fill` bind-mounts its
 * preopens (its rootfs view and mounts), its module (read-only) and its stdio paths (FIFOs, files) into the
 * slot (internal/mount-ops.ts: mount(2) through the process's mount helper, or one mount(8) call), and the
 * runner is given the paths inside; after the task `release` unmounts them
 * and removes the slot. A sandbox is never given a second task.
 *
 * A room is `<base>/<pid>-<start>-<n>`: the process that made it, named so that a reused pid cannot pass for it
 * (internal/process-identity.ts). A process that was killed leaves its room's mounts behind; the next room
 * opened under the same base (by any nodewasi daemon) unmounts and removes the rooms of processes that are gone.
 *
 * Only root can mount: elsewhere `openRoom` answers undefined, and a sandboxed runner starts cold, with its own
 * binds (child-runner.ts).
 */
import { closeSync, constants as fsc, mkdirSync, openSync } from "node:fs";
import { mkdir, readdir, realpath, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import {
  type BindMount,
  bindMounts,
  isMountPoint,
  isSameProcess,
  type Logger,
  mountsBelow,
  selfIdentity,
  sharedBindOnItself,
  unmountAll,
  unmountBelow,
} from "../internal/index.js";
import type { ChildSpec, ChildStdio } from "./runner-protocol.js";

/** Where a sandbox sees its slot. */
export const SLOT_IN_SANDBOX = "/task";

/** Rooms made by this process so far: a process may run several ChildRunners (tests do). */
let rooms = 0;

/**
 * Whether a slot can serve `child`: its stdio are null, FIFOs or plain files. A rotated log (`file://` with a
 * cap) cannot: its folder would have to be bound (a file bound on its own cannot be renamed), and that folder
 * holds every detached task's logs; such a spec starts cold.
 */
export function fitsSlot(child: ChildSpec): boolean {
  return [child.stdin, child.stdout, child.stderr].every(
    (t) => t.kind === "null" || t.kind === "fifo" || (t.kind === "file" && t.rotate === undefined),
  );
}

/**
 * Creates a `file://` stdio target that does not exist yet (appended to, never truncated), so that a sandbox
 * can be given it: bwrap and mount(8) bind only what exists.
 */
export function createFileTarget(path: string): void {
  closeSync(openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND, 0o644));
}

/** A shared mount point holding the slots of one ChildRunner's warm sandboxes. */
export class SlotRoom {
  readonly dir: string;
  #next = 0;

  /** Use SlotRoom.open, which makes `dir` a room. */
  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Opens a room under `base` (made if missing): first removes the rooms of processes that are gone (their
   * mounts too), then makes this one and a shared mount point of it. Undefined when not root, or when a mount
   * fails (logged): warm sandboxes are then not used.
   */
  static async open(base: string, log: Logger): Promise<SlotRoom | undefined> {
    if (process.getuid?.() !== 0) return undefined;
    try {
      await mkdir(base, { recursive: true, mode: 0o700 });
      const real = await realpath(base);
      await sweepRooms(real, log);
      const me = selfIdentity();
      const dir = join(real, `${me.pid}-${me.start ?? 0}-${++rooms}`);
      await mkdir(dir, { mode: 0o700 });
      try {
        await sharedBindOnItself(dir);
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      return new SlotRoom(dir);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      log.warn(
        `warm sandboxes are not used, every sandboxed runner starts cold: cannot make a shared mount point under ${base}: ${(e.stderr || e.message).trim()}`,
      );
      return undefined;
    }
  }

  /** A new, empty slot (its host path), for one warm sandbox to bind at SLOT_IN_SANDBOX. */
  newSlot(): string {
    const slot = join(this.dir, String(++this.#next));
    mkdirSync(slot, { mode: 0o755 });
    return slot;
  }

  /**
   * Binds what `child` names (host paths) into `slot` and returns the spec as the sandbox sees it. Throws
   * (Internal) when a bind fails, having unmounted what it made: the caller starts the spec cold, whose own
   * checks then name what is missing.
   */
  async fill(slot: string, child: ChildSpec): Promise<ChildSpec> {
    const binds: BindMount[] = [];
    const inside = (name: string) => `${SLOT_IN_SANDBOX}/${name}`;
    const preopens: Record<string, string> = {};
    for (const [i, [guest, host]] of Object.entries(child.preopens).entries()) {
      mkdirSync(join(slot, `fs${i}`));
      binds.push({ source: host, target: join(slot, `fs${i}`), recursive: true });
      preopens[guest] = inside(`fs${i}`);
    }
    const file = (source: string, name: string, readOnly = false): string => {
      closeSync(openSync(join(slot, name), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600));
      binds.push({ source, target: join(slot, name), readOnly });
      return inside(name);
    };
    const module = file(child.module, "module", true);
    const stdio = (t: ChildStdio, name: string): ChildStdio => {
      if (t.kind !== "fifo" && t.kind !== "file") return t;
      if (t.kind === "file") createFileTarget(t.path);
      return { ...t, path: file(t.path, name) };
    };
    const stdin = stdio(child.stdin, "stdin");
    const stdout = stdio(child.stdout, "stdout");
    const stderr = child.stderr === child.stdout ? stdout : stdio(child.stderr, "stderr");
    try {
      await bindMounts(binds, this.#table(slot));
    } catch (err) {
      await this.release(slot).catch(() => {});
      throw err;
    }
    return { ...child, module, moduleName: child.module, preopens, stdin, stdout, stderr };
  }

  /** Unmounts what `fill` bound in `slot` and removes it (idempotent). Call once its sandbox has ended. */
  async release(slot: string): Promise<void> {
    await unmountBelow(slot);
    await rm(slot, { recursive: true, force: true });
    await rm(this.#table(slot), { force: true });
  }

  /** Releases every slot left and removes the room; call once every sandbox of it has ended. */
  async close(): Promise<void> {
    await removeRoom(this.dir);
  }

  /** The fstab `fill` writes for `slot`: beside it, where no sandbox sees it. */
  #table(slot: string): string {
    return join(this.dir, `${basename(slot)}.fstab`);
  }
}

/** Removes the rooms under `base` whose process is gone, with whatever they left mounted. */
async function sweepRooms(base: string, log: Logger): Promise<void> {
  for (const name of await readdir(base)) {
    const m = /^(\d+)-(\d+)-\d+$/.exec(name);
    if (!m || isSameProcess({ pid: Number(m[1]), start: Number(m[2]) })) continue;
    const dir = join(base, name);
    const left = mountsBelow(dir).length;
    await removeRoom(dir).catch((err: Error) =>
      log.warn(`removing ${dir}, left by a process that died: ${err.message}`),
    );
    if (left) log.debug(`unmounted ${left} slot mount(s) left by a process that died`, { room: dir });
  }
}

/** Unmounts everything in and on `dir`, then removes it. */
async function removeRoom(dir: string): Promise<void> {
  await unmountBelow(dir);
  if (isMountPoint(dir)) await unmountAll(dir);
  await rm(dir, { recursive: true, force: true });
}
