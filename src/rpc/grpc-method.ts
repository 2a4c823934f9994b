/**
 * How grpc-js sees one RPC of a protobuf-es descriptor: its path and protobuf-es (de)serialisers, shared by the
 * server and the client.
 */

import { create, type DescMessage, type DescMethod, fromBinary, toBinary } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";

/**
 * grpc-js's description of `method` served at `path` (`/containerd.task.v3.Task/Create`). The serialisers
 * accept init shapes as well as messages (`create` returns a message as is).
 */
export function methodDefinition(path: string, method: DescMethod): grpc.MethodDefinition<object, object> {
  return {
    path,
    originalName: method.localName,
    requestStream: false,
    responseStream: method.methodKind === "server_streaming",
    requestSerialize: serializer(method.input),
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output),
    responseDeserialize: deserializer(method.output),
  };
}

function serializer(schema: DescMessage): (message: object) => Buffer {
  return (message) => {
    const bytes = toBinary(schema, create(schema, message as never));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage): (bytes: Buffer) => object {
  return (bytes) => fromBinary(schema, bytes);
}
