/**
 * stdio of nodewasi tasks under a real containerd (Debian's 1.6.20) driven by `ctr`, beyond the plain FIFOs of
 * test/containerd.test.ts (reference containerd-shim-protocol.md §6.3, DESIGN decision 16):
 *
 * - `ctr run -t`: ctr needs a terminal of its own (it sets it raw and forwards resizes), so it runs under
 *   util-linux `script`; it creates stdin and stdout FIFOs only, with `terminal=true`.
 * - `--log-uri binary:///path?k=v`: containerd's binary logging contract (stdout on fd 3, stderr on fd 4, a
 *   ready pipe on fd 5 that the logger closes), with a shell logger written into the test's temp dir.
 * - Every write end the shim side opened is closed once the guest has exited: containerd >= 1.6.22 / 1.7.3
 *   wait for that in `task.Delete`, and a logger sees EOF only then.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { containerdUnavailable, nodewasiImage, type PrivateContainerd } from "./harness/containerd.js";
import { containerdWithModuleImages, stopContainerdAndTemp } from "./harness/containerd-images.js";
import { onTerminal, terminalUnavailable } from "./harness/terminal.js";

const IMAGE = "nodewasi.test/stdio";

const skip = containerdUnavailable() ?? terminalUnavailable();

/** Processes holding a write end (O_WRONLY or O_RDWR) of a file under `dir`: "pid fd -> path" lines. */
function writersUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (!target.startsWith(`${dir}/`)) continue;
        const flags = Number.parseInt(
          /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))![1]!,
          8,
        );
        if (flags & 3) found.push(`${pid} ${fd} -> ${target}`);
      } catch {}
    }
  }
  return found;
}

describe("stdio of nodewasi tasks under ctr: -t, binary:// loggers, closed write ends", {
  skip: skip ?? false,
}, () => {
  let ctd: PrivateContainerd;
  let tmp: string;
  const image = (tag: string) => nodewasiImage(`${IMAGE}:${tag}`);

  /** `ctr args` with a pseudo-terminal as its stdin, stdout and stderr; what the terminal showed. */
  const ctrOnTerminal = async (args: string[]) => {
    const { code, screen } = await onTerminal([
      "ctr",
      "--address",
      ctd.address,
      "-n",
      ctd.namespace,
      ...args,
    ]);
    return { code, stdout: screen };
  };

  before(async () => {
    ({ ctd, tmp } = await containerdWithModuleImages("stdio", IMAGE, {
      hello: "examples/hello/hello.wasm",
      trap: "examples/modules/trap.wasm",
      exit: "examples/modules/exit-code.wasm",
    }));
  });
  after(() => stopContainerdAndTemp(ctd, tmp));

  test("ctr run --rm -t: the output reaches ctr's terminal, without resize errors, and the status is the guest's", async () => {
    const hello = await ctrOnTerminal(["run", "--rm", "-t", ...image("hello"), "tty-hello"]);
    assert.equal(hello.code, 0, ctd.explain(hello));
    assert.match(hello.stdout, /Hello from nodewasi!/, ctd.explain(hello));
    // ctr logs a failed ResizePty as `ERRO[...] resize pty` on the terminal: there must be none.
    assert.doesNotMatch(hello.stdout, /ERRO|resize|not implemented/i, ctd.explain(hello));

    // terminal=true: no stderr FIFO; the guest's stderr shares the terminal's stream, as on a real tty.
    const trap = await ctrOnTerminal(["run", "--rm", "-t", ...image("trap"), "tty-trap"]);
    assert.equal(trap.code, 134, ctd.explain(trap));
    assert.match(trap.stdout, /about to trap/, ctd.explain(trap));
    assert.match(trap.stdout, /wasm trap: unreachable/, ctd.explain(trap));

    const exit = await ctrOnTerminal([
      "run",
      "--rm",
      "-t",
      ...image("exit"),
      "tty-exit",
      "/exit-code.wasm",
      "9",
    ]);
    assert.equal(exit.code, 9, ctd.explain(exit));
  });

  test("ctr run --rm --log-uri binary://: the logger gets stdout on fd 3 and stderr on fd 4, then EOF", async () => {
    const out = join(tmp, "logs");
    const logger = join(tmp, "logger.sh");
    // containerd's binary logging contract: copy fd 3 and 4, close fd 5 once ready; arguments from the query.
    writeFileSync(
      logger,
      [
        "#!/bin/sh",
        'dir="$2"',
        'mkdir -p "$dir"',
        // The copies must not inherit fd 5, or the shim never sees it closed.
        'cat <&3 >"$dir/$CONTAINER_ID.stdout" 4<&- 5>&- &',
        'cat <&4 >"$dir/$CONTAINER_ID.stderr" 3<&- 5>&- &',
        "exec 3<&- 4<&- 5>&-",
        "wait",
        'echo "$CONTAINER_NAMESPACE/$CONTAINER_ID" >"$dir/$CONTAINER_ID.done"',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const uri = `binary://${logger}?dir=${encodeURIComponent(out)}`;
    const hello = await ctd.ctr(["run", "--rm", "--log-uri", uri, ...image("hello"), "bin-hello"]);
    assert.equal(hello.code, 0, ctd.explain(hello));
    assert.equal(hello.stdout, "", "the output went to the logger, not to ctr");
    assert.equal(readFileSync(join(out, "bin-hello.stdout"), "utf8"), "Hello from nodewasi!\n");
    assert.equal(readFileSync(join(out, "bin-hello.stderr"), "utf8"), "");
    // Written after both copies saw EOF: every write end was closed when the guest exited.
    assert.equal(readFileSync(join(out, "bin-hello.done"), "utf8"), `${ctd.namespace}/bin-hello\n`);

    const trap = await ctd.ctr(["run", "--rm", "--log-uri", uri, ...image("trap"), "bin-trap"]);
    assert.equal(trap.code, 134, ctd.explain(trap));
    assert.equal(readFileSync(join(out, "bin-trap.stdout"), "utf8"), "");
    assert.match(readFileSync(join(out, "bin-trap.stderr"), "utf8"), /^about to trap\nError: wasm trap: /);
    assert.ok(existsSync(join(out, "bin-trap.done")));
  });

  test("once the guest has exited, nothing holds a write end of its FIFOs (before ctr deletes the task)", async () => {
    const fifos = join(ctd.dir, "fifo-closed");
    const r = await ctd.ctr(["run", "-d", "--fifo-dir", fifos, ...image("hello"), "closed"]);
    assert.equal(r.code, 0, ctd.explain(r));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ls = await ctd.ctr(["task", "ls"]);
      if (/^closed\s+\d+\s+STOPPED/m.test(ls.stdout)) break;
      assert.ok(Date.now() < deadline, `the task did not stop: ${ls.stdout}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(readdirSync(fifos).length > 0, "ctr made the FIFOs there");
    assert.deepEqual(writersUnder(fifos), []);
    assert.equal((await ctd.ctr(["task", "delete", "closed"])).code, 0);
    assert.equal((await ctd.ctr(["container", "rm", "closed"])).code, 0);
  });
});
