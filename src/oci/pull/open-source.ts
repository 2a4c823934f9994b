/**
 * Turns what the user typed (`REF`, `docker://REF`, `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`) into an
 * ImageSource and the name the store records it under.
 */
import { resolve as resolvePath } from "node:path";
import type { Logger } from "../../internal/index.js";
import type { ImageSource } from "../image/index.js";
import { formatSourceSpec, parseSourceSpec } from "../image/index.js";
import { DockerCredentials, RegistryClient, registrySource } from "../registry/index.js";
import { archiveSource, layoutSource } from "./layout-source.js";

export interface OpenSourceOptions {
  plainHttp?: boolean;
  /** The registry timeout in ms (`RegistryClientOptions.timeoutMs`); default from the environment, else 30 s. */
  registryTimeoutMs?: number;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface OpenedSource {
  source: ImageSource;
  /** The canonical name: `docker.io/library/hello:latest`, `oci:/abs/dir:tag`. */
  name: string;
}

/**
 * The name the store keeps `input` under: a registry reference normalised (`hello` ->
 * `docker.io/library/hello:latest`), an `oci:` or `oci-archive:` path made absolute. Throws `InvalidArgument`
 * for something that is neither.
 */
export function sourceName(input: string): string {
  const spec = parseSourceSpec(input);
  return formatSourceSpec(spec.kind === "registry" ? spec : { ...spec, path: resolvePath(spec.path) });
}

export async function openSource(input: string, opts: OpenSourceOptions = {}): Promise<OpenedSource> {
  const spec = parseSourceSpec(input);
  const name = sourceName(input);
  switch (spec.kind) {
    case "registry": {
      const client = new RegistryClient({
        plainHttp: opts.plainHttp ?? false,
        ...(opts.registryTimeoutMs !== undefined ? { timeoutMs: opts.registryTimeoutMs } : {}),
        ...(opts.env ? { env: opts.env } : {}),
        credentials: new DockerCredentials({
          ...(opts.env ? { env: opts.env } : {}),
          ...(opts.logger ? { logger: opts.logger } : {}),
        }),
        ...(opts.logger ? { logger: opts.logger } : {}),
      });
      return { source: registrySource(client, spec.ref, name), name };
    }
    case "oci":
      return { source: await layoutSource(resolvePath(spec.path), spec.tag), name };
    case "oci-archive":
      return { source: await archiveSource(resolvePath(spec.path), spec.tag), name };
  }
}
