/**
 * The wire contract without our generated code: a client built by @grpc/proto-loader from the .proto files
 * in proto/ (as any other gRPC client of the shim would be) drives the server. If a package, message name or
 * field number in src/gen drifted from proto/, or the server spoke anything but plain protobuf, this fails.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fakeImages, fakeTask, startGrpcFixture, type TaskLog } from "../../test/harness/index.js";
import { Images, TASK_NAMES, Task } from "../gen/index.js";
import { addService } from "./grpc-server.js";

/** proto/ of the checkout: this file runs as dist/src/rpc/*.test.js. */
const PROTO = fileURLToPath(new URL("../../../proto", import.meta.url));

type Callback = (err: grpc.ServiceError | null, res: Record<string, unknown>) => void;
type LoadedClient = grpc.Client & Record<string, (req: object, cb: Callback) => grpc.ClientUnaryCall>;

/** A proto-loader client of `service` (e.g. "containerd.task.v3.Task") on `socket`. */
function loadedClient(files: string[], service: string, socket: string): LoadedClient {
  const definition = protoLoader.loadSync(files, {
    includeDirs: [PROTO],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of service.split(".")) node = (node as Record<string, unknown>)[part];
  const Ctor = node as new (address: string, creds: grpc.ChannelCredentials) => LoadedClient;
  return new Ctor(`unix://${socket}`, grpc.credentials.createInsecure());
}

function call(client: LoadedClient, method: string, req: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    client[method]!(req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** CreateOptions{image = 1} encoded by hand: tag (1 << 3 | 2), length, UTF-8 bytes. */
function createOptionsBytes(image: string): Buffer {
  const bytes = Buffer.from(image);
  return Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
}

describe("the gRPC wire contract, seen by a proto-loader client", () => {
  let fixture: Awaited<ReturnType<typeof startGrpcFixture>>;
  const log: TaskLog = { created: [], metadata: [], aborted: [] };

  before(async () => {
    fixture = await startGrpcFixture((server) => {
      addService(server, Task, fakeTask(log), { names: TASK_NAMES });
      addService(server, Images, fakeImages());
    });
  });
  after(() => fixture.close());

  for (const version of ["v2", "v3"]) {
    it(`drives containerd.task.${version}.Task: Create (with CreateOptions), Start, Wait, Kill, State`, async () => {
      const task = loadedClient(
        [`containerd/runtime/task/${version}/shim.proto`],
        `containerd.task.${version}.Task`,
        fixture.socket,
      );
      try {
        const id = `pl-${version}`;
        const options = {
          type_url: "type.googleapis.com/nodewasi.v1.CreateOptions",
          value: createOptionsBytes("oci:./examples/images/hello"),
        };
        const created = await call(task, "Create", { id, bundle: "/b", stdout: "/fifo", options });
        assert.equal(created.pid, 42);
        assert.deepEqual(log.created.at(-1), { id, image: "oci:./examples/images/hello" });
        assert.equal((await call(task, "Start", { id })).pid, 42);
        const waiting = call(task, "Wait", { id });
        assert.deepEqual(await call(task, "Kill", { id, signal: 9, all: false }), {});
        const exit = await waiting;
        assert.equal(exit.exit_status, 137);
        assert.ok(Number((exit.exited_at as { seconds: string }).seconds) > 1_700_000_000);
        const state = await call(task, "State", { id });
        assert.equal(state.status, "STOPPED");
        assert.equal(state.exit_status, 137);
        await assert.rejects(call(task, "State", { id: "nope" }), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.NOT_FOUND);
          assert.equal(err.details, "task nope not found");
          return true;
        });
      } finally {
        task.close();
      }
    });
  }

  it("streams nodewasi.v1.Images/Pull progress with the oneof and the final result", async () => {
    const images = loadedClient(["nodewasi/v1/images.proto"], "nodewasi.v1.Images", fixture.socket);
    try {
      const stream = (images as unknown as Record<string, (r: object) => grpc.ClientReadableStream<object>>)
        .Pull!({ reference: "count:3" });
      const got: Record<string, unknown>[] = [];
      for await (const m of stream) got.push(m as Record<string, unknown>);
      assert.deepEqual(
        got.map((m) => m.event),
        ["blob_progress", "blob_progress", "blob_progress", "result"],
      );
      assert.equal((got[2]!.blob_progress as { done: string }).done, "2");
      assert.equal((got[3]!.result as { name: string }).name, "count:3");
    } finally {
      images.close();
    }
  });
});
