/**
 * Turns what the user typed (`REF`, `docker://REF`, `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`) into an
 * ImageSource and the name the store records it under.
 */
import { resolve as resolvePath } from "node:path";
import type { Logger } from "../internal/index.js";
import type { ImageSource } from "./image-source.js";
import { archiveSource, layoutSource } from "./layout-source.js";
import { formatReference, parseSourceSpec } from "./reference.js";
import { DockerCredentials, RegistryClient, registrySource } from "./registry/index.js";

export interface OpenSourceOptions {
  plainHttp?: boolean;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface OpenedSource {
  source: ImageSource;
  /** The canonical name: `docker.io/library/hello:latest`, `oci:/abs/dir:tag`. */
  name: string;
}

export async function openSource(input: string, opts: OpenSourceOptions = {}): Promise<OpenedSource> {
  const spec = parseSourceSpec(input);
  switch (spec.kind) {
    case "registry": {
      const name = formatReference(spec.ref);
      const client = new RegistryClient({
        plainHttp: opts.plainHttp ?? false,
        credentials: new DockerCredentials(opts.env ? { env: opts.env } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
      });
      return { source: registrySource(client, spec.ref, name), name };
    }
    case "oci": {
      const path = resolvePath(spec.path);
      const source = await layoutSource(path, spec.tag);
      return { source, name: `oci:${path}${spec.tag ? `:${spec.tag}` : ""}` };
    }
    case "oci-archive": {
      const path = resolvePath(spec.path);
      const source = await archiveSource(path, spec.tag);
      return { source, name: `oci-archive:${path}${spec.tag ? `:${spec.tag}` : ""}` };
    }
  }
}
