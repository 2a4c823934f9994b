/**
 * mount(2) and umount2(2) without a process per call: Node has neither, and mount(8) costs a fork of the
 * calling process (which blocks its event loop for the fork: 2-5 ms for a daemon on a quiet machine, tens of
 * ms on a loaded one) and an exec. One long-lived helper per process, started on first use, makes the calls:
 * Perl, through its `syscall` builtin, because perl-base is part of every Debian and Ubuntu system and needs
 * no build step (a compiled helper would need a compiler at install time). A mount through it costs about a
 * millisecond; `npm run bench -- run` shows the difference.
 *
 * Used only as root (only root may mount). Where Perl is missing, the architecture's syscall numbers are not
 * known, or the helper cannot start, `mountSyscalls()` answers undefined and callers use mount(8)
 * (mount-ops.ts). A helper that dies fails the calls in flight (Internal) and is started again on the next.
 *
 * Protocol, one line each way per call: `mount SOURCE TARGET FSTYPE FLAGS DATA` or `umount TARGET FLAGS`, each
 * string field in hex (`-` for NULL), FLAGS in hex; the answer is `ok` or `err ERRNO MESSAGE`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface, type Interface } from "node:readline";
import { executableOnPath } from "./fs.js";
import { Code, ShimError } from "./shim-error.js";

/** The flags of mount(2) that nodewasi uses (linux/mount.h). */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  REC: 0x4000,
  SHARED: 0x100000,
} as const;

/** umount2(2)'s lazy detach. */
export const MNT_DETACH = 0x2;

/**
 * The helper. Syscall numbers come from Perl's own `syscall.ph` when it has one, else from a table of the
 * architectures Node runs on; an unknown one says `unsupported` and exits.
 */
const SCRIPT = String.raw`
use strict;
$| = 1;
my ($mount, $umount) = eval { require "syscall.ph"; (&SYS_mount, &SYS_umount2) };
unless (defined $umount) {
  my %nr = (x86_64 => [165, 166], aarch64 => [40, 39], riscv64 => [40, 39], loongarch64 => [40, 39],
            i686 => [21, 52], i386 => [21, 52], arm => [21, 52], powerpc64 => [21, 52], s390x => [21, 52]);
  my ($arch) = ((POSIX::uname())[4] =~ /^(\w+)/) if eval { require POSIX; 1 };
  ($mount, $umount) = @{ $nr{$arch // ""} // [] };
}
unless (defined $umount) { print "unsupported\n"; exit 0 }
print "ready\n";
while (my $line = <STDIN>) {
  chomp $line;
  my ($op, @f) = split / /, $line, -1;
  my @s = map { $_ eq "-" ? 0 : pack("H*", $_) } @f;
  my $r = -1;
  if ($op eq "mount" && @f == 5) {
    $r = syscall($mount, $s[0], $s[1], $s[2], 0 + hex($f[3]), $s[4]);
  } elsif ($op eq "umount" && @f == 2) {
    $r = syscall($umount, $s[0], 0 + hex($f[1]));
  } else {
    $! = 22;
  }
  if ($r == 0) { print "ok\n" } else { printf "err %d %s\n", 0 + $!, "$!" }
}
`;

/** A mount(2) or umount2(2) call that failed: errno and its message. */
export class SyscallError extends Error {
  readonly errno: number;
  constructor(errno: number, message: string) {
    super(message);
    this.errno = errno;
  }
}

/** Whether no helper can run here (not root, no Perl, an unknown architecture): then mount(8) it is. */
let unusable = process.getuid?.() !== 0;
let current: Helper | undefined;

/** The helper, started if need be; undefined when none can run here. */
export async function mountSyscalls(): Promise<Helper | undefined> {
  if (unusable) return undefined;
  if (current && !current.dead) return current;
  const perl = executableOnPath("perl");
  if (!perl) {
    unusable = true;
    return undefined;
  }
  const helper = new Helper(perl);
  current = helper;
  if (await helper.started) return helper;
  unusable = true;
  current = undefined;
  return undefined;
}

/** One helper process; calls are answered in order. */
export class Helper {
  /** Resolves true once the helper said `ready`, false when it cannot serve (it has exited). */
  readonly started: Promise<boolean>;
  dead = false;
  /** The helper's pid (undefined when it could not be started). */
  readonly pid: number | undefined;
  readonly #child: ChildProcess;
  readonly #lines: Interface;
  readonly #waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];

  constructor(perl: string) {
    // Its own process group, so a terminal's ^C does not end it before the daemon has unmounted.
    this.#child = spawn(perl, ["-e", SCRIPT], {
      stdio: ["pipe", "pipe", "ignore"],
      env: { LC_ALL: "C" },
      detached: true,
    });
    this.pid = this.#child.pid;
    this.#lines = createInterface({ input: this.#child.stdout! });
    let ready: (ok: boolean) => void;
    this.started = new Promise((resolve) => {
      ready = resolve;
    });
    const first = (line: string) => {
      ready(line === "ready");
      if (this.#waiting.length === 0) this.#idle();
    };
    this.#waiting.push({ resolve: first, reject: () => ready(false) });
    this.#lines.on("line", (line) => this.#waiting.shift()?.resolve(line));
    const gone = (why: string) => {
      this.dead = true;
      const err = new ShimError(Code.Internal, `the mount helper (perl) ${why}`);
      for (const w of this.#waiting.splice(0)) w.reject(err);
    };
    this.#child.once("error", (err) => gone(`could not start: ${err.message}`));
    this.#child.once("exit", (code, signal) => gone(`exited (${signal ?? `status ${code}`})`));
    this.#child.stdin!.on("error", () => {}); // its exit says why
    this.#busy();
  }

  /** mount(2); `undefined` strings are NULL. Rejects with a SyscallError (errno) when the call fails. */
  mount(
    source: string | undefined,
    target: string,
    fstype: string | undefined,
    flags: number,
    data?: string,
  ) {
    return this.#call(["mount", hex(source), hex(target), hex(fstype), flags.toString(16), hex(data)]);
  }

  /** umount2(2). Rejects with a SyscallError (errno) when the call fails. */
  umount(target: string, flags = 0) {
    return this.#call(["umount", hex(target), flags.toString(16)]);
  }

  async #call(fields: string[]): Promise<void> {
    if (this.dead) throw new ShimError(Code.Internal, "the mount helper (perl) has exited");
    this.#busy();
    const line = await new Promise<string>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#child.stdin!.write(`${fields.join(" ")}\n`);
    }).finally(() => {
      if (this.#waiting.length === 0) this.#idle();
    });
    if (line === "ok") return;
    const m = /^err (\d+) (.*)$/.exec(line);
    throw new SyscallError(Number(m?.[1] ?? 0), m?.[2] ?? line);
  }

  /** A call in flight keeps the process alive; an idle helper does not. */
  #busy(): void {
    this.#child.ref();
    (this.#child.stdout as unknown as { ref(): void }).ref();
  }

  #idle(): void {
    this.#child.unref();
    (this.#child.stdout as unknown as { unref(): void }).unref();
    (this.#child.stdin as unknown as { unref(): void }).unref();
  }
}

function hex(s: string | undefined): string {
  return s === undefined ? "-" : Buffer.from(s).toString("hex");
}
