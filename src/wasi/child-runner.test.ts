import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  childPids,
  mkfifo,
  openFds,
  openFifoWriter,
  readFifo,
  specFor,
  tempDir,
  wasmModule,
  wasmName,
  writeBytesPattern,
} from "../../test/harness/index.js";
import { Code, ShimError } from "../internal/index.js";
import { ChildRunner } from "./child-runner.js";
import type { RunSpec } from "./runner.js";

const tmp = tempDir();
let runner: ChildRunner;
before(() => {
  runner = new ChildRunner({ isolation: "none" });
});
after(async () => {
  await runner.close();
  tmp.remove();
});

let n = 0;
/** Runs a spec with stdout and stderr in files; returns the status and both outputs. */
async function run(spec: RunSpec, r = runner) {
  const out = join(tmp.dir, `out-${n}`);
  const err = join(tmp.dir, `err-${n++}`);
  const p = await r.start({
    ...spec,
    stdout: { kind: "file", path: out },
    stderr: { kind: "file", path: err },
  });
  const status = await p.exited;
  const read = (f: string) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return "";
    }
  };
  return { status, out: read(out), err: read(err), pid: p.pid };
}

describe("ChildRunner exit statuses (decision 6)", () => {
  for (const [arg, code] of [
    ["0", 0],
    ["1", 1],
    ["255", 255],
    ["256", 0],
    ["-1", 255],
    ["300", 44],
  ] as const) {
    it(`proc_exit(${arg}) -> ${code}`, async () => {
      const { status } = await run(specFor("exit-code", [arg]));
      assert.equal(status.code, code);
      assert.equal(status.signal, undefined);
      assert.ok(status.at instanceof Date);
    });
  }

  it("return from _start -> 0", async () => {
    assert.equal((await run(specFor("exit-code"))).status.code, 0);
  });

  it("a trap -> 134, with the message on the guest's stderr after its own output", async () => {
    const { status, err } = await run(specFor("trap"));
    assert.equal(status.code, 134);
    assert.equal(status.trap, "unreachable");
    assert.equal(err, "about to trap\nError: wasm trap: unreachable\n");
  });
});

describe("ChildRunner args, env, preopens, stdio", () => {
  it("passes argv as given", async () => {
    const { out } = await run(specFor("echo-args", ["a b", "", "ü"]));
    assert.equal(out, "echo-args\na b\n\nü\n");
  });

  it("gives the guest exactly the spec's env, nothing of the shim's", async () => {
    const { out } = await run(specFor("print-env", [], { env: { A: "1", EMPTY: "", "B=C": "x" } }));
    assert.deepEqual(out.trim().split("\n").sort(), ["A=1", "B=C=x", "EMPTY="]);
  });

  it("adds no PWD for the working directory: the guest's env is the spec's alone", async () => {
    const { out } = await run(specFor("print-env", [], { env: { A: "1" }, cwd: "/srv" }));
    assert.equal(out, "A=1\n");
  });

  it("preopens host dirs at guest paths", async () => {
    const data = join(tmp.dir, "data");
    mkdirSync(data);
    writeFileSync(join(data, "hello.txt"), "from the host\n");
    const { status, out } = await run(
      specFor("read-file", ["/data/hello.txt"], { preopens: { "/data": data } }),
    );
    assert.equal(status.code, 0);
    assert.equal(out, "from the host\n");
    const denied = await run(specFor("read-file", ["/etc/hostname"], { preopens: { "/data": data } }));
    assert.equal(denied.status.code, 1);
    assert.match(denied.err, /read-file: \/etc\/hostname: /);
  });

  it("stdin from a FIFO, stdout to a FIFO, with EOF both ways", async () => {
    const inPath = mkfifo(join(tmp.dir, "in.fifo"));
    const outPath = mkfifo(join(tmp.dir, "out.fifo"));
    const out = readFifo(outPath);
    const writer = openFifoWriter(inPath);
    const p = await runner.start(
      specFor("cat-stdin", [], {
        stdin: { kind: "fifo", path: inPath },
        stdout: { kind: "fifo", path: outPath },
      }),
    );
    const fd = await writer;
    writeSync(fd, "line 1\nline 2\n");
    closeSync(fd);
    assert.equal((await p.exited).code, 0);
    assert.equal((await out).toString(), "line 1\nline 2\n");
  });

  it("delivers 100 MiB written to a FIFO complete (same sha256), then EOF", async () => {
    const size = 100 * 1024 * 1024;
    const outPath = mkfifo(join(tmp.dir, "big.fifo"));
    const out = readFifo(outPath);
    const p = await runner.start(
      specFor("write-bytes", [String(size)], { stdout: { kind: "fifo", path: outPath } }),
    );
    const [status, got] = await Promise.all([p.exited, out]);
    assert.equal(status.code, 0);
    assert.equal(got.length, size);
    const want = writeBytesPattern(size);
    assert.equal(
      createHash("sha256").update(got).digest("hex"),
      createHash("sha256").update(want).digest("hex"),
    );
  });

  it("an fd the caller holds, passed to the runner (the caller keeps and closes its own)", async () => {
    const path = join(tmp.dir, "fd.out");
    const fd = openSync(path, "w");
    try {
      const p = await runner.start(specFor("echo-args", ["via fd"], { stdout: { kind: "fd", fd } }));
      assert.equal((await p.exited).code, 0);
      writeSync(fd, "still open here\n");
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(path, "utf8"), "echo-args\nvia fd\nstill open here\n");
  });

  it("terminal-style: stdout and stderr on one target object", async () => {
    const path = join(tmp.dir, "both.log");
    const target = { kind: "file", path } as const;
    const p = await runner.start(specFor("trap", [], { stdout: target, stderr: target }));
    assert.equal((await p.exited).code, 134);
    assert.equal(readFileSync(path, "utf8"), "about to trap\nError: wasm trap: unreachable\n");
  });
});

describe("ChildRunner entry exports (module.wasm#func, reactors)", () => {
  it("calls _initialize, then the entry; proc_exit inside the entry gives its code", async () => {
    const ran = await run(specFor("reactor", [], { entry: "run" }));
    assert.equal(ran.status.code, 0);
    assert.equal(ran.out, "reactor run\n");
    assert.equal((await run(specFor("reactor", [], { entry: "exit7" }))).status.code, 7);
  });

  it("refuses an entry on a command module and a missing export", async () => {
    await assert.rejects(
      runner.start(specFor("echo-args", [], { entry: "run" })),
      /needs a reactor module, but this one exports _start/,
    );
    await assert.rejects(
      runner.start(specFor("reactor", [], { entry: "nope" })),
      /exports no function "nope"/,
    );
    await assert.rejects(runner.start(specFor("reactor")), /exports no _start function \(a reactor\?/);
  });
});

describe("ChildRunner refusals (start fails, nothing runs, the runner keeps serving)", () => {
  const refuses = async (spec: RunSpec, code: Code, pattern: RegExp) => {
    await assert.rejects(runner.start(spec), (e: unknown) => {
      assert.ok(e instanceof ShimError, String(e));
      assert.equal(e.code, code, e.message);
      assert.match(e.message, pattern);
      return true;
    });
  };

  it("a missing module, a bad module, a missing preopen, a missing FIFO", async () => {
    await refuses(
      { ...specFor("echo-args"), module: "/nonexistent/m.wasm" },
      Code.NotFound,
      /module \/nonexistent\/m.wasm: cannot read it/,
    );
    const bad = join(tmp.dir, "bad.wasm");
    writeFileSync(bad, "not wasm");
    await refuses({ ...specFor("echo-args"), module: bad }, Code.InvalidArgument, /not a valid wasm module/);
    await refuses(
      specFor("echo-args", [], { preopens: { "/": "/nonexistent" } }),
      Code.NotFound,
      /the host directory \/nonexistent for the guest's \/ does not exist; create it/,
    );
    await refuses(
      specFor("echo-args", [], { stdout: { kind: "fifo", path: "/nonexistent/fifo" } }),
      Code.NotFound,
      /stdout\/stderr fifo \/nonexistent\/fifo: cannot open it/,
    );
    assert.equal((await run(specFor("exit-code", ["3"]))).status.code, 3);
  });

  it("a module importing what WASI does not offer: the imports are named, with what to do", async () => {
    // (import "env" "host_thing" (func)) (import "wasi_snapshot_preview1" "not_a_call" (func)), a memory and
    // an empty _start: V8 alone says `Import #0 module="env" error: module is not an object or function`.
    const file = join(tmp.dir, "imports.wasm");
    const imports = [
      ...[2, ...wasmName("env"), ...wasmName("host_thing"), 0, 0],
      ...[...wasmName("wasi_snapshot_preview1"), ...wasmName("not_a_call"), 0, 0],
    ];
    writeFileSync(
      file,
      wasmModule(
        [1, 1, 0x60, 0, 0],
        [2, ...imports],
        [3, 1, 0],
        [5, 1, 0, 1],
        [7, 2, ...wasmName("memory"), 2, 0, ...wasmName("_start"), 0, 2],
        [10, 1, 2, 0, 0x0b],
      ),
    );
    await refuses(
      { ...specFor("exit-code"), module: file },
      Code.InvalidArgument,
      /imports env\.host_thing \(function\), wasi_snapshot_preview1\.not_a_call \(function\), which nodewasi cannot provide: a guest is given WASI preview 1 only .*build it for wasm32-wasip1/,
    );
  });

  it("a memory limit below the module's minimum", async () => {
    await refuses(
      specFor("grow-memory", ["1"], { memoryLimit: 64 * 1024 }),
      Code.ResourceExhausted,
      /needs at least \d+ pages .* raise the memory limit/,
    );
  });
});

describe("ChildRunner memory cap (decision 9)", () => {
  it("a guest cannot grow past the limit; without one it can; the runner keeps serving", async () => {
    const capped = await run(specFor("grow-memory", ["100"], { memoryLimit: 4 * 1024 * 1024 }));
    assert.equal(capped.status.code, 1);
    assert.match(capped.out, /grow 100: failed at \d+ pages/);
    const small = await run(specFor("grow-memory", ["10"], { memoryLimit: 4 * 1024 * 1024 }));
    assert.equal(small.status.code, 0, small.out);
    const free = await run(specFor("grow-memory", ["100"]));
    assert.equal(free.status.code, 0);
    assert.match(free.out, /grow 100: ok, now \d+ pages/);
  });
});

describe("ChildRunner warm pool and leaks", () => {
  it("starts faster from the warm pool (measured, not asserted)", async (t) => {
    const cold = new ChildRunner({ isolation: "none", pool: 0 });
    const warm = new ChildRunner({ isolation: "none", pool: 2 });
    try {
      await sleep(300); // let the pool boot
      const time = async (r: ChildRunner) => {
        const t0 = performance.now();
        const p = await r.start(specFor("exit-code"));
        const started = performance.now() - t0;
        await p.exited;
        return [started, performance.now() - t0];
      };
      const c = [await time(cold), await time(cold), await time(cold)];
      const w = [await time(warm), await time(warm)];
      const fmt = (xs: number[][]) =>
        xs.map(([s, e]) => `start ${s!.toFixed(1)} ms, exit ${e!.toFixed(1)} ms`).join("; ");
      t.diagnostic(`cold: ${fmt(c)}`);
      t.diagnostic(`warm: ${fmt(w)}`);
    } finally {
      await Promise.all([cold.close(), warm.close()]);
    }
  });

  it("leaves no fd or child process behind after 50 runs", async () => {
    await sleep(100);
    const fds0 = openFds();
    const kids0 = childPids();
    const r = new ChildRunner({ isolation: "none", pool: 2 });
    const outPath = mkfifo(join(tmp.dir, "leak.fifo"));
    for (let i = 0; i < 50; i++) {
      const out = readFifo(outPath);
      const p = await r.start(specFor("echo-args", [String(i)], { stdout: { kind: "fifo", path: outPath } }));
      assert.equal((await p.exited).code, 0);
      assert.equal((await out).toString(), `echo-args\n${i}\n`);
    }
    await r.close();
    await sleep(100);
    assert.deepEqual(childPids(), kids0);
    assert.equal(openFds(), fds0);
  });
});
