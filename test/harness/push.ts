/**
 * Pushes built images (a top descriptor plus a map of blobs, as src/oci/build/build.ts returns them) to a registry
 * with the library's push (`copyToDestination` from `builtImageSource` to `registryDestination`): blobs first,
 * an index's manifests by digest before the index under its tag. The push itself is checked against real tools
 * elsewhere (test/push*.test.ts: skopeo and containerd read what it writes), so fixtures stored this way are
 * what a registry really holds.
 */
import type { Digest } from "../../src/internal/index.js";
import type { BuiltImage } from "../../src/oci/build/build.js";
import { builtImageSource } from "../../src/oci/build/built-source.js";
import { registryDestination } from "../../src/oci/copy/copy-registry.js";
import { copyToDestination } from "../../src/oci/copy/copy-to-destination.js";
import { parseReference } from "../../src/oci/image/reference.js";
import { anonymous, RegistryClient } from "../../src/oci/registry/index.js";

/** What the builder returns: the top manifest or index and every blob it references, manifests included. */
export type Built = BuiltImage;

export interface PushAuth {
  user: string;
  password: string;
}

/**
 * Pushes `built` as `repoTag` (`name:tag`) to `host`, with `auth` for that host (Basic or bearer, as the
 * registry asks). Returns the top digest.
 */
export async function pushBuilt(
  host: string,
  repoTag: string,
  built: BuiltImage,
  auth?: PushAuth,
): Promise<Digest> {
  const client = new RegistryClient({
    credentials: auth
      ? {
          get: async (registry) =>
            registry === host ? { username: auth.user, password: auth.password } : undefined,
        }
      : anonymous,
  });
  const ref = parseReference(`${host}/${repoTag}`);
  await copyToDestination(builtImageSource(built, `fixture ${repoTag}`), registryDestination(client, ref));
  return built.manifest.digest;
}
