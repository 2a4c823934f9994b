/**
 * containerd.task.v3 is containerd.task.v2 under another package name, which is why src/gen has no v3 code
 * (buf.gen.yaml): the server registers v2's generated descriptor under both service names, and a v3 client is
 * v2's descriptor with `name: "containerd.task.v3.Task"`. This checks the claim on the contracts themselves:
 * proto/.../v3/shim.proto and v2/shim.proto, read by protobufjs (through @grpc/proto-loader, not by buf), hold
 * the same messages field for field and the same service method for method, and the generated `Task` is that
 * service. Calls under the v3 name go through src/rpc's ttrpc and gRPC tests and containerd's shim-start test.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadSync, type MessageTypeDefinition, type ServiceDefinition } from "@grpc/proto-loader";
import { Task } from "../src/gen/index.js";
import { REPO_ROOT } from "./harness/shim.js";

type Message = MessageTypeDefinition<object, object>;

const V2 = "containerd.task.v2";
const V3 = "containerd.task.v3";
const defs = loadSync(["containerd/runtime/task/v2/shim.proto", "containerd/runtime/task/v3/shim.proto"], {
  includeDirs: [join(REPO_ROOT, "proto")],
});

/** The definitions of package `pkg`, by their name within it. */
function inPackage(pkg: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, def] of Object.entries(defs))
    if (name.startsWith(`${pkg}.`)) out.set(name.slice(pkg.length + 1), def);
  return out;
}

/** A message's descriptor as JSON, with references into v3 written as references into v2. */
function asV2(def: unknown): string {
  return JSON.stringify((def as Message).type).replaceAll(`.${V3}.`, `.${V2}.`);
}

/** The name of a message type, as declared (without its package). */
function typeName(def: unknown): string {
  return ((def as Message).type as unknown as { name: string }).name;
}

/** A service's methods as the wire sees them: path (without the package), types, streaming. */
function methods(def: unknown, pkg: string): unknown[] {
  return Object.values(def as ServiceDefinition).map((m) => ({
    path: m.path.replace(`/${pkg}.`, "/"),
    request: typeName(m.requestType),
    response: typeName(m.responseType),
    requestStream: m.requestStream,
    responseStream: m.responseStream,
  }));
}

describe("containerd.task.v3 is containerd.task.v2 by another name", () => {
  const v2 = inPackage(V2);
  const v3 = inPackage(V3);

  it("declares the same messages, each field for field (names, numbers, types, labels, oneofs)", () => {
    const messages = [...v3.keys()].filter((k) => k !== "Task").sort();
    assert.deepEqual(messages, [...v2.keys()].filter((k) => k !== "Task").sort());
    assert.ok(
      messages.length >= 25,
      `only ${messages.length} messages: the proto files did not load as expected`,
    );
    for (const name of messages) assert.equal(asV2(v3.get(name)), asV2(v2.get(name)), name);
  });

  it("declares the same Task service, method for method", () => {
    assert.deepEqual(methods(v3.get("Task"), V3), methods(v2.get("Task"), V2));
  });

  it("is what the generated Task descriptor serves", () => {
    const generated = Task.methods.map((m) => ({
      path: `/Task/${m.name}`,
      request: m.input.name,
      response: m.output.name,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
    }));
    assert.deepEqual(generated, methods(v3.get("Task"), V3));
  });
});
