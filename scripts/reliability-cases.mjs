/**
 * The cases of docs/RELIABILITY.md, in the order of issue 6 (items 2 and 4): each names what the issue asks and
 * the tests that show it, by file (as in the source tree) and exact test name. `npm run reliability` runs
 * exactly these tests and reports each with its result and the figures it recorded (test/harness/reliability.ts).
 * A case passes when every test named under it ran and passed.
 */

/** @typedef {import("../test/harness/reliability-report.ts").Section} Section */

const t = (file, test) => ({ file, test });
const PULL = "test/pull-faults.test.ts";
const PUSH = "test/reliability-push-faults.test.ts";
const TASKS = "test/reliability-tasks.test.ts";
const SECURITY = "test/reliability-security.test.ts";
const CONTAINERD = "test/containerd.test.ts";
const START = "src/wasi/start-section.test.ts";
const SIGNALS = "src/wasi/child-runner-signals.test.ts";
const CLOSE = "src/wasi/child-runner-close.test.ts";
const KILL = "test/task-kill.test.ts";
const KILL_GUEST = "src/cli/kill-guest.test.ts";
const RUN = "src/cli/run-command.test.ts";

/** @type {Section[]} */
export const SECTIONS = [
  {
    title: "Fault suite (issue 6, item 2)",
    cases: [
      {
        id: "pull-faults",
        title: "Registry faults during pull",
        asked: "resets, 5xx, 429, truncation, flipped bytes, slow bodies during pull",
        tests: [
          t(PULL, "500 on the manifest, then 502 and 503 on the blob: retried, pulled"),
          t(PULL, "429 with Retry-After: 1 is waited out"),
          t(PULL, "a connection reset mid-blob is resumed and the blob verifies"),
          t(PULL, "a truncated body is resumed with Range from where it stopped"),
          t(PULL, "a byte flipped once is detected and the blob fetched again"),
          t(PULL, "a byte flipped in a gzip tar layer is detected too"),
          t(PULL, "permanent corruption: DataLoss naming the digest, and no bad blob stored"),
          t(PULL, "a registry that stays unavailable fails with Unavailable after bounded retries"),
          t(PULL, "a slow body arrives whole, late"),
          t(PULL, "a slow body is cancelled by the caller's signal"),
        ],
      },
      {
        id: "push-faults",
        title: "Registry faults during push",
        asked: "resets, 5xx, 429, truncation, flipped bytes, slow bodies during push",
        tests: [
          t(PUSH, "5xx on the upload start, the blob PUT and the manifest PUT: retried, pushed"),
          t(PUSH, "429 with Retry-After: 1 on the blob PUT is waited out"),
          t(PUSH, "a connection reset while the blob is uploaded: retried in a new session, pushed"),
          t(PUSH, "an answer cut short after the blob landed: the retry finds it, pushed"),
          t(
            PUSH,
            "a byte flipped in the uploaded blob: the registry refuses it, nothing is stored under the digest",
          ),
          t(PUSH, "a slow upload arrives whole"),
          t(PUSH, "PATCH chunks with a 503 on one chunk: not resent blindly, a clear error"),
        ],
      },
      {
        id: "shim-killed",
        title: "The shim daemon killed mid-task",
        asked: "the shim daemon killed mid-task",
        tests: [
          t(
            "test/task-shim-death.test.ts",
            "running guests and warm runners exit within 5 s of the shim's death",
          ),
          t(
            CONTAINERD,
            "the shim daemon killed with SIGKILL mid-task: containerd cleans up, the task is gone, no runner left",
          ),
        ],
      },
      {
        id: "runner-killed",
        title: "A runner killed",
        asked: "a runner killed",
        tests: [
          t(
            TASKS,
            "a runner SIGKILLed under a running task: Wait says 137, the shim serves on, the pool refills",
          ),
        ],
      },
      {
        id: "containerd-restart",
        title: "containerd restarted with tasks running",
        asked: "containerd restarted with tasks running",
        tests: [
          t(
            CONTAINERD,
            "containerd restarted while a task runs: it reconnects to the shim and sees the exit",
          ),
        ],
      },
      {
        id: "wait-disconnect",
        title: "A client disconnecting during Wait",
        asked: "a client disconnecting during Wait",
        tests: [
          t(
            TASKS,
            "a client closing its connection during Wait, then a client process SIGKILLed during Wait",
          ),
        ],
      },
      {
        id: "two-waiters",
        title: "Two clients waiting on one task",
        asked: "two clients waiting on one task",
        tests: [t(TASKS, "two clients on two connections waiting on one task get the same exit")],
      },
      {
        id: "disk-full",
        title: "The store's disk full during a pull",
        asked: "a clear error, and the next pull with space succeeds (a small tmpfs made by the test)",
        tests: [
          t(
            "test/reliability-disk-full.test.ts",
            "download: the layer does not fit; a clear error, a consistent store, and the pull succeeds once there is space",
          ),
          t(
            "test/reliability-disk-full.test.ts",
            "unpack: the layer fits, its unpacked rootfs does not; a clear error, a consistent store, and the pull succeeds once there is space",
          ),
          t(
            "src/oci/batch-writer.test.ts",
            "a write failing while the caller waits elsewhere is no unhandled rejection; flush reports it",
          ),
        ],
      },
      {
        id: "load-concurrent",
        title: "Load: 100 tasks at once in one shim",
        asked: "100 tasks at once in one shim, all exit statuses right",
        tests: [t(TASKS, "100 tasks started at once, each with its own exit status, none left behind")],
      },
      {
        id: "load-sequential",
        title: "Load: 1,000 tasks one after another",
        asked: "no growth in the shim's fds, child processes or memory beyond a stated bound",
        tests: [
          t("test/task-leaks.test.ts", "1000 create/start/wait/delete leave fds and children as they were"),
          t("test/task-leaks.test.ts", "50 create/start/wait/delete leave fds and children as they were"),
        ],
      },
    ],
  },
  {
    title: "Security (issue 6, item 4)",
    cases: [
      {
        id: "sockets",
        title: "Sockets 0600 in a 0700 folder",
        asked: "sockets 0600 in a 0700 folder",
        tests: [
          t(SECURITY, "isolation none: the shim's socket is 0600 in a 0700 folder"),
          t(SECURITY, "isolation bwrap: the shim's socket is 0600 in a 0700 folder"),
          t(
            "src/containerd/shim-start.test.ts",
            "prints only the address, writes it to `address`, and one daemon serves the whole pod",
          ),
        ],
      },
      {
        id: "credentials",
        title: "Credentials never in logs, errors or --debug output",
        asked: "credentials never appear in logs, errors or `--debug` output",
        tests: [
          t(
            "test/reliability-credentials.test.ts",
            "nodewasi --debug pull, right and wrong credentials, Basic and bearer: no secret printed",
          ),
          t(
            "test/reliability-credentials.test.ts",
            "a --debug shim pulling for a client: its log and its errors hold no secret",
          ),
        ],
      },
      {
        id: "preopens",
        title: "A guest sees only its preopens",
        asked: "symlinks, `..`, absolute paths tried",
        tests: [
          t(
            SECURITY,
            "isolation none: the guest sees only its preopens (.., absolute paths, its own symlinks tried)",
          ),
          t(
            SECURITY,
            "isolation bwrap: the guest sees only its preopens (.., absolute paths, its own symlinks tried)",
          ),
          t(
            "src/wasi/guest-symlinks.test.ts",
            "symlink ../../../../etc is refused, so /y/hostname reads nothing; a link beside its target works",
          ),
          t(SECURITY, "isolation none: an image's `..` symlink cannot be moved or linked to climb out"),
          t(SECURITY, "isolation bwrap: an image's `..` symlink cannot be moved or linked to climb out"),
          t(
            "src/wasi/guest-symlinks.test.ts",
            "rename and link of a deep link (or its directory) elsewhere are refused; a move within its directory works",
          ),
          t(
            "src/wasi/guest-symlinks.test.ts",
            "an O_NOFOLLOW open of a link that leads out is followed inside the preopen, not on the host",
          ),
          t(
            "test/task-isolation.test.ts",
            "the guest cannot read the host's /etc/hostname through rootfs/link -> /etc",
          ),
        ],
      },
      {
        id: "environment",
        title: "None of the host's environment",
        asked: "a guest sees none of the host's environment",
        tests: [
          t(SECURITY, "isolation none: none of the shim's environment reaches the guest"),
          t(SECURITY, "isolation bwrap: none of the shim's environment reaches the guest"),
        ],
      },
      {
        id: "other-rootfs",
        title: "No other container's rootfs",
        asked: "a guest sees no other container's rootfs",
        tests: [
          t(SECURITY, "isolation none: a guest cannot reach another task's rootfs"),
          t(SECURITY, "isolation bwrap: a guest cannot reach another task's rootfs"),
        ],
      },
      {
        id: "bwrap",
        title: "Isolation with and without bwrap, and the warning when it is missing",
        asked: "isolation with and without `bwrap`, and the warning when it is missing",
        tests: [
          t(SECURITY, "isolation auto warns once, loudly, and runs guests; isolation bwrap refuses to start"),
          t(
            "src/wasi/sandbox.test.ts",
            "a rootfs symlink to /etc reaches the host's /etc without bwrap, and nothing with it",
          ),
        ],
      },
    ],
  },
  {
    title: "Issue 10: unkillable guests and lost statuses",
    cases: [
      {
        id: "start-function-loops",
        title: "A guest whose start function never returns is running, and killable",
        asked:
          "a module whose start section loops: Start returns with the task RUNNING, kill and rm -f end its runner, the daemon then exits idle (issue 10 item 1)",
        tests: [
          t(
            START,
            "a start function that never returns: start() resolves, and SIGTERM ends it there with 143",
          ),
          t(START, "runs before _start, with WASI usable (the order instantiation keeps); status 0"),
          t(START, "a trap in the start function is the guest's trap: 134 and the message on its stderr"),
          t(
            KILL,
            "a start function that never returns: Start returns with the task RUNNING, and SIGKILL ends it within 1 s",
          ),
          t(
            KILL_GUEST,
            "run -d returns; kill KILL ends its runner, and ps says stopped 137 only once it is gone",
          ),
          t(KILL_GUEST, "rm -f ends it too, and the daemon then exits once idle"),
        ],
      },
      {
        id: "kill-while-starting",
        title: "A Kill while Start is in flight ends the runner; the task stops only once it is gone",
        asked:
          "Kill during a Start that has not returned (compiling, opening a FIFO); Delete or a second Start meanwhile (issue 10 item 1)",
        tests: [
          t(
            "src/shim/task-service.test.ts",
            "a Kill while Start is in flight ends what the runner started; the task stops only once that has ended",
          ),
          t(
            KILL,
            "a Start blocked opening a stdout FIFO nobody reads: Kill ends its runner, then Start fails and Wait gives 143",
          ),
          t(SIGNALS, "a warm runner: start() rejects with the reason, and only once the runner is gone"),
          t(SIGNALS, "under bwrap (cold): bwrap and the runner inside are both gone when start() rejects"),
        ],
      },
      {
        id: "every-signal",
        title: "Every signal meets its default action; SIGUSR1 opens no inspector",
        asked:
          "every signal 1-31 (and real-time ones) against a looping guest; SIGUSR1 and SIGPIPE, which Node handles itself (issue 10 item 1)",
        tests: [
          t(
            SIGNALS,
            "1-31 and the real-time 32-64: ended with 128 + signo, stopped, or left running, as a native process",
          ),
          t(SIGNALS, "SIGUSR1 ends the guest (138) and a warm runner: Node's inspector never starts"),
          t(SIGNALS, "SIGPIPE ends a paused guest with 141 (sent as SIGKILL: Node ignores SIGPIPE)"),
        ],
      },
      {
        id: "runners-outlive-sigkill",
        title: "No runner outlives its SIGKILL, at any stage of its start",
        asked:
          '"runner(s) did not end within 2000 ms of SIGKILL"; bwrap killed before its child armed --die-with-parent (issue 10 item 14)',
        tests: [
          t(
            CLOSE,
            "close() while warm sandboxed runners boot ends bwrap and its child at every stage, without waiting out its bound",
          ),
          t(CLOSE, "a bwrap killed from outside while it sets up leaves no child of its own behind"),
        ],
      },
      {
        id: "idle-under-load",
        title: "A short-idle daemon on a busy machine",
        asked:
          "task-idle.test cancelled under load: the 1 s shim exited before the harness saw it serve (issue 10 item 14)",
        tests: [
          t(
            "src/cli/idle-watch.test.ts",
            "counts from start(), not from its construction: a shim slow to bind its socket is not idle yet",
          ),
          t(
            "test/task-idle.test.ts",
            "a guest running 2.5 s with no call in flight keeps a 1 s idle daemon up; then it exits",
          ),
        ],
      },
      {
        id: "closed-stdout",
        title: "A closed stdout keeps the guest's status and --rm",
        asked: "`nodewasi run --rm REF | head -c 100` (issue 10 item 9)",
        tests: [
          t(
            RUN,
            "run --rm REF | head -c 100: the guest meets EPIPE, and run still exits with its status and removes it",
          ),
        ],
      },
      {
        id: "messages-imports-mounts",
        title: "Messages that name the cause: a non-WASI import, a missing mount",
        asked:
          '"module is not an object or function"; a missing --mount blamed on bwrap and node (issue 10 item 10)',
        tests: [
          t(
            "src/wasi/child-runner.test.ts",
            "a module importing what WASI does not offer: the imports are named, with what to do",
          ),
          t(
            "src/wasi/sandbox.test.ts",
            "a mount whose host directory is missing is named as such, not blamed on bwrap",
          ),
          t(RUN, "a --mount of a missing host directory says so (exit 3), whatever the sandbox"),
        ],
      },
    ],
  },
];

/** Closing notes of the report: what the figures leave out, and what the suite found. Markdown lines. */
export const NOTES = [
  "## Notes",
  "",
  "- **What varies between runs** and is therefore not printed: durations (the 1,000-task run takes about 40 s",
  "  on an idle 2-core machine, 2 to 3 minutes on a loaded one), the shim's resident memory (a sawtooth of about",
  "  40 MiB as V8 collects; bounded at 64 MiB above the start at every sample), pids and temp paths.",
  "- **Without bwrap** the sandbox is node:wasi's alone, and a directory symlink that came with a bundle's rootfs",
  "  (containerd's path) is followed on the host: the `sandbox.test.ts` row shows it, with bwrap holding it. Images",
  "  cannot carry such links (the unpacker refuses them), and guests can neither make them nor move or hard-link",
  "  an image's harmless `..` link (or its directory) to another directory (`guest-symlinks.ts`).",
  "- **Found and fixed by this suite**: a guest-made symlink climbing out with `..` read the host's files without",
  "  bwrap and sibling tasks' rootfs in a warm bwrap sandbox (uvwasi refuses only absolute targets); so did an",
  "  image's deep `..` link renamed or hard-linked to the rootfs top, or its directory moved up; an `O_NOFOLLOW`",
  "  open of a rootfs-top link was followed by the kernel past the preopen (uvwasi drops the flag); a full disk",
  "  during a pull crashed the process (an unhandled rejection of a background write: the CLI, or the shim with",
  "  all its tasks); a blob upload retried after a reset or a lost answer failed NotFound (the upload session was",
  "  gone) instead of starting a new session; a Create refused for a relative mount left its task folder behind.",
];
