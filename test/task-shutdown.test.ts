/**
 * Against a shim process: an independent client (@grpc/grpc-js + @grpc/proto-loader loading proto/, no
 * generated code; CreateOptions encoded by hand from the field numbers proto-loader read) drives Create, Start
 * and Wait; then Shutdown, which leaves the shim up while a task is left and ends the process once none is.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { REPO_ROOT, type ShimHandle, startShim } from "./harness/shim.js";
import { tempDir, writeModuleLayout } from "./harness/task-kit.js";

const PROTO = join(REPO_ROOT, "proto");
const LOAD = {
  includeDirs: [PROTO],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

type Callback = (err: grpc.ServiceError | null, res: Record<string, unknown>) => void;
type LoadedClient = grpc.Client & Record<string, (req: object, cb: Callback) => grpc.ClientUnaryCall>;

function taskClient(socket: string): LoadedClient {
  const definition = protoLoader.loadSync(["containerd/runtime/task/v2/shim.proto"], LOAD);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    containerd: { task: { v2: { Task: new (a: string, c: grpc.ChannelCredentials) => LoadedClient } } };
  };
  return new pkg.containerd.task.v2.Task(`unix://${socket}`, grpc.credentials.createInsecure());
}

function call(client: LoadedClient, method: string, req: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    client[method]!(req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}

/**
 * nodewasi.v1.CreateOptions in protobuf wire format, written by hand: each field's number comes from the
 * message descriptor proto-loader read from proto/nodewasi/v1/create_options.proto.
 */
function encodeCreateOptions(image: string, args: string[]): Buffer {
  const definition = protoLoader.loadSync(["nodewasi/v1/create_options.proto"], LOAD);
  const type = (definition["nodewasi.v1.CreateOptions"] as { type: unknown }).type as {
    field: { name: string; number: number }[];
  };
  const num = (name: string) => type.field.find((f) => f.name === name)!.number;
  const str = (field: number, s: string) => {
    const bytes = Buffer.from(s);
    return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
  };
  return Buffer.concat([str(num("image"), image), ...args.map((a) => str(num("args"), a))]);
}

describe("an independent client, and Shutdown, against a shim process", () => {
  let shim: ShimHandle;
  let client: LoadedClient;
  let dir: string;
  let ref: Awaited<ReturnType<typeof writeModuleLayout>>;

  before(async () => {
    dir = await tempDir();
    ref = await writeModuleLayout(join(dir, "layout"), ["echo-args", "sleep-ms"]);
    shim = await startShim();
    client = taskClient(shim.address);
  });
  after(async () => {
    client?.close();
    await shim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("proto-loader client: Create (CreateOptions packed by hand in an Any), Wait before Start, Start, Wait", async () => {
    const out = join(dir, "pl.out");
    const options = {
      type_url: "type.googleapis.com/nodewasi.v1.CreateOptions",
      value: encodeCreateOptions(ref("echo-args"), ["one", "two"]),
    };
    const created = await call(client, "Create", { id: "pl", stdout: `file://${out}`, options });
    assert.equal(created.pid, 0);
    assert.equal((await call(client, "State", { id: "pl" })).status, "CREATED");
    const waiting = call(client, "Wait", { id: "pl" });
    const started = await call(client, "Start", { id: "pl" });
    assert.ok(Number(started.pid) > 0);
    const exit = await waiting;
    assert.equal(exit.exit_status, 0);
    assert.ok(Number((exit.exited_at as { seconds: string }).seconds) > 1_700_000_000);
    assert.equal(await readFile(out, "utf8"), "/echo-args.wasm\none\ntwo\n");
    const state = await call(client, "State", { id: "pl" });
    assert.equal(state.status, "STOPPED");
    assert.equal(state.exit_status, 0);
    await assert.rejects(call(client, "Checkpoint", { id: "pl" }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNIMPLEMENTED);
      return true;
    });
  });

  it("Shutdown leaves the shim up while tasks are left, and the process exits once none is", async () => {
    // "pl" (stopped, not deleted) is still there, and a running task joins it.
    await call(client, "Create", {
      id: "sleeper",
      options: {
        type_url: "type.googleapis.com/nodewasi.v1.CreateOptions",
        value: encodeCreateOptions(ref("sleep-ms"), ["60000"]),
      },
    });
    const waiting = call(client, "Wait", { id: "sleeper" });
    await call(client, "Start", { id: "sleeper" });
    await call(client, "Shutdown", { id: "sleeper" });
    // Still serving, and the running task is untouched.
    assert.equal((await call(client, "State", { id: "sleeper" })).status, "RUNNING");
    assert.equal((await call(client, "Connect", { id: "sleeper" })).shim_pid, shim.pid);

    await call(client, "Kill", { id: "sleeper", signal: 15 });
    assert.equal((await waiting).exit_status, 143);
    assert.equal((await call(client, "Delete", { id: "sleeper" })).exit_status, 143);
    await call(client, "Shutdown", { id: "sleeper" });
    assert.equal((await call(client, "State", { id: "pl" })).status, "STOPPED", "shim went with a task left");
    assert.equal((await call(client, "Delete", { id: "pl" })).exit_status, 0);

    await call(client, "Shutdown", { id: "pl" });
    const timeout = new Promise((_, reject) => {
      setTimeout(() => reject(new Error("the shim is still running 5 s after Shutdown")), 5000).unref();
    });
    const code = await Promise.race([shim.exited, timeout]);
    assert.equal(code, 0, shim.stderr());
    assert.ok(!existsSync(shim.address), "the socket is left behind");
  });
});
