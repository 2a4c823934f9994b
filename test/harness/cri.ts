/**
 * Speaking CRI to containerd as the kubelet does: `runtime.v1` RuntimeService and ImageService over gRPC on
 * containerd's own socket, with a client that @grpc/proto-loader builds from the vendored (trimmed) cri-api
 * proto in test/cri/. No crictl: the calls and messages are the kubelet's, nothing else sits in between.
 * Also the images a CRI test imports: a pause image (a native `/pause`, as registry.k8s.io/pause is) and wasm
 * images in the `compat` layout, whose `linux/amd64` config lets the CRI plugin resolve them on a Linux node.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { buildImage, writeLayoutArchive } from "../../src/oci/index.js";
import { REPO_DIR } from "./containerd.js";

/** A decoded CRI message: proto-loader's plain objects (snake_case names, 64-bit integers as strings). */
// biome-ignore lint/suspicious/noExplicitAny: the shapes are the proto's; tests read the fields they need.
export type CriMessage = Record<string, any>;

export interface CriClient {
  /** Calls RuntimeService/`method`; rejects with the gRPC error (its `details` is containerd's message). */
  runtime(method: string, req?: object): Promise<CriMessage>;
  /** Calls ImageService/`method`. */
  image(method: string, req?: object): Promise<CriMessage>;
  close(): void;
}

type Unary = (
  req: object,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: grpc.requestCallback<CriMessage>,
) => void;

/** A CRI client on containerd's gRPC socket `address`. Calls time out after `timeoutMs`. */
export function criClient(address: string, timeoutMs = 60_000): CriClient {
  const definition = protoLoader.loadSync(join(REPO_DIR, "test/cri/api.proto"), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    runtime: { v1: Record<string, new (a: string, c: grpc.ChannelCredentials) => grpc.Client> };
  };
  const open = (service: string) =>
    new pkg.runtime.v1[service]!(`unix://${address}`, grpc.credentials.createInsecure());
  const runtime = open("RuntimeService");
  const image = open("ImageService");
  const call = (client: grpc.Client, method: string, req: object) =>
    new Promise<CriMessage>((resolve, reject) => {
      const fn = (client as unknown as Record<string, Unary>)[method];
      if (!fn) throw new Error(`CRI method ${method} is not in test/cri/api.proto`);
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res ?? {}),
      );
    });
  return {
    runtime: (method, req = {}) => call(runtime, method, req),
    image: (method, req = {}) => call(image, method, req),
    close: () => {
      runtime.close();
      image.close();
    },
  };
}

/**
 * Writes `<dir>/pause.tar`, an OCI archive of the pause image for `sandbox_image` (tag `tag`): `linux/amd64`,
 * entrypoint `/pause`, which is no wasm module (a shell script here; the real one is a static ELF binary), so
 * the shim runs its built-in pause module for it (DESIGN decision 17).
 */
export async function pauseImageArchive(dir: string, tag: string): Promise<string> {
  const archive = join(dir, "pause.tar");
  const image = buildImage({
    module: Buffer.from("#!/bin/sh\nexec sleep infinity\n"),
    format: "image",
    platform: { architecture: "amd64", os: "linux" },
    entrypoint: "/pause",
    compression: "none",
  });
  await writeLayoutArchive(archive, [{ image, tag }]);
  return archive;
}

/**
 * Writes `<dir>/wasm.tar` with tag -> module (a path under the repository) as `compat` images: a `linux/amd64`
 * config with the module as Entrypoint (`/<name>.wasm`) in one tar layer that also holds the archive's other
 * modules and hello.wasm, for ExecSync.
 */
export async function criWasmArchive(dir: string, modules: Record<string, string>): Promise<string> {
  const archive = join(dir, "wasm.tar");
  const name = (file: string) => file.slice(file.lastIndexOf("/") + 1);
  const all = new Map([["hello.wasm", readFileSync(join(REPO_DIR, "examples/hello/hello.wasm"))]]);
  for (const file of Object.values(modules)) all.set(name(file), readFileSync(join(REPO_DIR, file)));
  await writeLayoutArchive(
    archive,
    Object.entries(modules).map(([tag, file]) => {
      const image = buildImage({
        module: all.get(name(file))!,
        format: "compat",
        entrypoint: `/${name(file)}`,
        files: [...all].filter(([n]) => n !== name(file)).map(([path, data]) => ({ path, data })),
      });
      return { image, tag };
    }),
  );
  return archive;
}
